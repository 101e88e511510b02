package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestMigrateInboundRaw: a database of version 4 (message bytes in the
// inbound row) opens at the current version with every message's bytes in
// inbound_raw, byte for byte, and its state intact.
func TestMigrateInboundRaw(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	old, err := openPool("file:" + path + "?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations()[:4] {
		if _, err := old.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	raws := [][]byte{[]byte("small"), bytes.Repeat([]byte{0xA5}, 10000)}
	for i, raw := range raws {
		if _, err := old.Exec(`INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, raw, received, state)
			VALUES ('INBOX', 1, ?, ?, ?, 'r@example.org', ?, ?, 1, 'processed')`,
			i+1, []byte(fmt.Sprint("sum", i)), fmt.Sprint("m", i), len(raw), raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`PRAGMA user_version = 4`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	db.Reader().QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != len(migrations()) {
		t.Errorf("version %d, want %d", v, len(migrations()))
	}
	for i, want := range raws {
		var raw []byte
		var state string
		err := db.Reader().QueryRow(`SELECT r.raw, i.state FROM inbound i JOIN inbound_raw r ON r.inbound_id = i.id WHERE i.uid = ?`, i+1).Scan(&raw, &state)
		if err != nil || !bytes.Equal(raw, want) || state != "processed" {
			t.Errorf("message %d: %d bytes, state %q (%v); want its %d bytes, processed", i+1, len(raw), state, err, len(want))
		}
	}
	if _, err := db.Reader().Exec(`SELECT raw FROM inbound`); err == nil {
		t.Error("inbound still has its raw column")
	}
}

// TestMigrateAtOnce: two processes (here, two pools) opening a new
// database at once both succeed: each step reads the version in its own
// writing transaction, so the second finds the first's steps done instead
// of running them again ("table already exists").
func TestMigrateAtOnce(t *testing.T) {
	for range 5 {
		path := filepath.Join(t.TempDir(), "new.db")
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				db, err := Open(context.Background(), path)
				if err == nil {
					db.Close()
				}
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
