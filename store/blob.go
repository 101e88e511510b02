package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
)

// ChunkSize is the size of the pieces a big value is stored in. SQLite
// copies a value whole when it binds it and again when it builds the row,
// and once more to read it back: a 25 MiB message would cost 50 MiB outside
// the Go heap. Stored in pieces, it costs one piece.
const ChunkSize = 1 << 20

// schemaBlob: blob_chunk holds values bigger than ChunkSize, in pieces,
// for the row (owner table, id) whose own column is left empty.
const schemaBlob = `
CREATE TABLE blob_chunk (
	owner TEXT    NOT NULL,
	id    INTEGER NOT NULL,
	seq   INTEGER NOT NULL,
	data  BLOB    NOT NULL,
	UNIQUE (owner, id, seq)
) STRICT;
`

// Querier is what reads run on: the read pool or a transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Inline is what the row's own column holds for data: data itself when it
// fits one piece, and an empty value otherwise, which Unspill reads as "in
// pieces". data must not be empty.
func Inline(data []byte) []byte {
	if len(data) <= ChunkSize {
		return data
	}
	return []byte{}
}

// Spill writes data in pieces for the row (owner, id) when Inline left it
// out of the row; it does nothing otherwise.
func Spill(ctx context.Context, tx *sql.Tx, owner string, id int64, data []byte) error {
	if len(data) <= ChunkSize {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO blob_chunk (owner, id, seq, data) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: spill %s %d: %w", owner, id, err)
	}
	defer stmt.Close()
	for seq := 0; len(data) > 0; seq++ {
		n := min(len(data), ChunkSize)
		if _, err := stmt.ExecContext(ctx, owner, id, seq, data[:n]); err != nil {
			return fmt.Errorf("store: spill %s %d: %w", owner, id, err)
		}
		data = data[n:]
	}
	return nil
}

// Unspill returns the value of the row (owner, id) whose column held col:
// col itself, or, when col is empty, the pieces Spill wrote, joined into one
// buffer of exactly their size. The size is read first (SQLite reads it off
// the row header, not the piece), so a 25 MiB value is never copied from
// one growing buffer into the next.
func Unspill(ctx context.Context, q Querier, owner string, id int64, col []byte) ([]byte, error) {
	if len(col) > 0 {
		return col, nil
	}
	b, err := OpenBlob(ctx, q, owner, id, col)
	if err != nil {
		return nil, err
	}
	out := make([]byte, b.Size())
	if _, err := io.ReadFull(b.NewReader(ctx), out); err != nil {
		return nil, fmt.Errorf("store: read %s %d: %w", owner, id, err)
	}
	return out, nil
}

// spilledSize returns the total size of the pieces of (owner, id).
func spilledSize(ctx context.Context, q Querier, owner string, id int64) (int, error) {
	rows, err := q.QueryContext(ctx, `SELECT coalesce(sum(length(data)), 0) FROM blob_chunk WHERE owner = ? AND id = ?`, owner, id)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var size int
	if rows.Next() {
		if err := rows.Scan(&size); err != nil {
			return 0, err
		}
	}
	return size, rows.Err()
}
