package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func openBlobTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Writer().Exec(`CREATE TABLE m (id INTEGER PRIMARY KEY, raw BLOB NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestBlobWriterReader writes values through BlobWriter in writes of
// every kind of size (one byte, across pieces, exactly a piece) and reads
// them back as a stream and whole: the same bytes, in pieces of ChunkSize.
func TestBlobWriterReader(t *testing.T) {
	ctx := context.Background()
	db := openBlobTestDB(t)
	tests := []struct {
		size, write int
		pieces      int
	}{
		{1, 1, 1},
		{ChunkSize, ChunkSize, 1},
		{ChunkSize + 1, 7, 2},
		{3*ChunkSize + 17, ChunkSize + 3, 4},
		{2 * ChunkSize, 1 << 16, 2},
	}
	for i, tt := range tests {
		id := int64(i + 1)
		v := make([]byte, tt.size)
		rand.Read(v)
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO m (id, raw) VALUES (?, ?)`, id, []byte{}); err != nil {
				return err
			}
			w := NewBlobWriter(ctx, tx, "m", id)
			for p := v; len(p) > 0; {
				n, err := w.Write(p[:min(len(p), tt.write)])
				if err != nil {
					return err
				}
				p = p[n:]
			}
			if err := w.Close(); err != nil {
				return err
			}
			if w.Size() != int64(tt.size) {
				t.Errorf("%d bytes: writer counts %d", tt.size, w.Size())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var pieces int
		db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = 'm' AND id = ? AND length(data) <= ?`, id, ChunkSize).Scan(&pieces)
		if pieces != tt.pieces {
			t.Errorf("%d bytes: %d pieces of at most ChunkSize, want %d", tt.size, pieces, tt.pieces)
		}
		b, err := OpenBlob(ctx, db.Reader(), "m", id, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(b.NewReader(ctx), 10)))
		if err != nil || !bytes.Equal(got, v[:min(10, len(v))]) {
			t.Errorf("%d bytes: first bytes %x, %v", tt.size, got, err)
		}
		if err := iotest.TestReader(b.NewReader(ctx), v); err != nil {
			t.Errorf("%d bytes: %v", tt.size, err)
		}
		whole, err := Unspill(ctx, db.Reader(), "m", id, nil)
		if err != nil || !bytes.Equal(whole, v) {
			t.Errorf("%d bytes: Unspill gave %d bytes, %v", tt.size, len(whole), err)
		}
	}
}

// TestBlobWriterCrash: pieces written in a transaction that does not
// commit (the process dies, or the row's insert fails) are never visible:
// the pieces appear with the row that names them or not at all. A value
// without bytes is refused, and a writer that failed stays failed.
func TestBlobWriterCrash(t *testing.T) {
	ctx := context.Background()
	db := openBlobTestDB(t)
	boom := errors.New("crash")
	v := make([]byte, 2*ChunkSize+5)
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		w := NewBlobWriter(ctx, tx, "m", 1)
		if _, err := w.Write(v); err != nil {
			return err
		}
		return boom // before Close and before the row
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var n int
	db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d pieces visible after the transaction rolled back", n)
	}
	if _, err := OpenBlob(ctx, db.Reader(), "m", 1, nil); err == nil {
		t.Error("OpenBlob of a value that was never committed: no error")
	}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		return NewBlobWriter(ctx, tx, "m", 2).Close()
	})
	if err == nil {
		t.Error("an empty value was stored")
	}
	// The same piece twice: the insert fails, and so does every write after.
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO blob_chunk (owner, id, seq, data) VALUES ('m', 3, 0, x'00')`); err != nil {
			return err
		}
		w := NewBlobWriter(ctx, tx, "m", 3)
		if _, err := w.Write(make([]byte, ChunkSize)); err == nil {
			t.Error("a piece that exists was written again")
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("a failed writer took more")
		}
		if err := w.Close(); err == nil {
			t.Error("a failed writer closed without error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBlobReaderChanged: pieces that change between OpenBlob and the read
// give an error, never a short or a longer value.
func TestBlobReaderChanged(t *testing.T) {
	ctx := context.Background()
	db := openBlobTestDB(t)
	v := make([]byte, 2*ChunkSize+5)
	err := db.Tx(ctx, func(tx *sql.Tx) error { return Spill(ctx, tx, "m", 1, v) })
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []string{
		`DELETE FROM blob_chunk WHERE owner = 'm' AND id = 1 AND seq = 1`,
		`UPDATE blob_chunk SET data = zeroblob(2000000) WHERE owner = 'm' AND id = 1 AND seq = 1`,
		`UPDATE blob_chunk SET data = zeroblob(10) WHERE owner = 'm' AND id = 1 AND seq = 0`,
	} {
		b, err := OpenBlob(ctx, db.Reader(), "m", 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Writer().Exec(`DELETE FROM blob_chunk WHERE owner = 'm'`)
		if err := db.Tx(ctx, func(tx *sql.Tx) error { return Spill(ctx, tx, "m", 1, v) }); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Writer().Exec(change); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(b.NewReader(ctx)); err == nil {
			t.Errorf("%s: read %d bytes without error, want an error", change, len(got))
		}
	}
}
