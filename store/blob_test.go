package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"testing"
)

func TestSpillUnspill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, raw BLOB NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	values := map[int64][]byte{}
	for i, n := range []int{1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		v := make([]byte, n)
		rand.Read(v)
		id := int64(i + 1)
		values[id] = v
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			col := Inline(v)
			if (len(col) == 0) != (n > ChunkSize) {
				t.Errorf("%d bytes: column holds %d bytes", n, len(col))
			}
			if _, err := tx.Exec(`INSERT INTO m (id, raw) VALUES (?, ?)`, id, col); err != nil {
				return err
			}
			return Spill(ctx, tx, "m", id, v)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// Read back after a reopen, in a transaction and from the pool.
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, want := range values {
		var col []byte
		if err := db.Reader().QueryRow(`SELECT raw FROM m WHERE id = ?`, id).Scan(&col); err != nil {
			t.Fatal(err)
		}
		got, err := Unspill(ctx, db.Reader(), "m", id, col)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("row %d: %d bytes back, want the %d written", id, len(got), len(want))
		}
		if len(want) > ChunkSize && cap(got) != len(want) {
			t.Errorf("row %d: read into a buffer of %d bytes, want exactly the %d of the value", id, cap(got), len(want))
		}
	}
	var pieces int
	db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = 'm'`).Scan(&pieces)
	if pieces != 2+4 {
		t.Errorf("%d pieces stored, want 6 (2 + 4)", pieces)
	}
	// An empty column without pieces is an error, not an empty message.
	if _, err := Unspill(ctx, db.Reader(), "m", 99, []byte{}); err == nil {
		t.Error("Unspill of a missing value: no error")
	}
}
