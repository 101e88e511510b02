package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointInBackground: the writer's own automatic checkpoint waits
// for backstopFrames, and once commits have put more than checkpointFrames
// frames in the WAL the checkpointer's connection copies them, while the
// WAL is still far below the writer's backstop: the writer did not copy
// them. What was committed reads back after the database is opened again.
func TestCheckpointInBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auto int
	if err := db.Writer().QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != backstopFrames {
		t.Errorf("the writer's wal_autocheckpoint is %d, want %d", auto, backstopFrames)
	}

	type result struct{ frames, copied int }
	done := make(chan result, 100)
	db.ckpt.mu.Lock()
	db.ckpt.after = func(frames, copied int, err error) {
		if err != nil {
			t.Errorf("checkpoint: %v", err)
		}
		select {
		case done <- result{frames, copied}:
		default:
		}
	}
	db.ckpt.mu.Unlock()

	if _, err := db.Writer().ExecContext(ctx, `CREATE TABLE big (b BLOB NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	// Twelve commits of 100 pages each: more than a checkpoint's worth.
	for range 12 {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) INSERT INTO big (b) SELECT randomblob(3500) FROM s`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	guard := time.After(time.Minute) // a failure's end, not a wait that passes
	for {
		var r result
		select {
		case r = <-done:
		case <-guard:
			t.Fatal("the checkpointer copied nothing within a minute of 1,200 pages committed")
		}
		if r.copied < checkpointFrames {
			continue
		}
		if r.frames >= backstopFrames {
			t.Errorf("copied %d frames of a WAL of %d: the writer's backstop, not the checkpointer's turn", r.copied, r.frames)
		}
		break
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM big`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1200 {
		t.Errorf("%d rows after reopening, want 1200", n)
	}
}
