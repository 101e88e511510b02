package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
)

// Blob is one stored value, read as a stream from its start as often as
// wanted: the row's own column, or its pieces one at a time, so that a big
// value is never whole in memory.
type Blob struct {
	q     Querier
	owner string
	id    int64
	col   []byte
	size  int64
}

// OpenBlob returns the value of the row (owner, id) whose column held col:
// col itself, or, when col is empty, the pieces written for it (Spill,
// BlobWriter). Their total size is read now.
func OpenBlob(ctx context.Context, q Querier, owner string, id int64, col []byte) (*Blob, error) {
	if len(col) > 0 {
		return &Blob{col: col, size: int64(len(col))}, nil
	}
	size, err := spilledSize(ctx, q, owner, id)
	if err != nil {
		return nil, fmt.Errorf("store: read %s %d: %w", owner, id, err)
	}
	if size == 0 {
		return nil, fmt.Errorf("store: read %s %d: value is empty and has no pieces", owner, id)
	}
	return &Blob{q: q, owner: owner, id: id, size: int64(size)}, nil
}

// Size is the value's size in bytes.
func (b *Blob) Size() int64 { return b.size }

// Head returns the value's first bytes: the column, or its first piece.
func (b *Blob) Head(ctx context.Context) ([]byte, error) {
	if b.q == nil {
		return b.col, nil
	}
	return b.piece(ctx, 0, nil)
}

// NewReader returns a reader of the value from its start. It holds one
// piece at a time. A missing piece, or pieces that add up to another size
// than Size (they changed while read), is an error, never a short value.
func (b *Blob) NewReader(ctx context.Context) io.Reader {
	return &blobReader{ctx: ctx, b: b, piece: b.col}
}

// piece reads the piece seq into dst's array when it fits (the driver's
// copy is not kept).
func (b *Blob) piece(ctx context.Context, seq int, dst []byte) ([]byte, error) {
	rows, err := b.q.QueryContext(ctx, `SELECT data FROM blob_chunk WHERE owner = ? AND id = ? AND seq = ?`, b.owner, b.id, seq)
	if err != nil {
		return nil, fmt.Errorf("store: read %s %d: %w", b.owner, b.id, err)
	}
	defer rows.Close()
	var data []byte
	if rows.Next() {
		var raw sql.RawBytes
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: read %s %d: %w", b.owner, b.id, err)
		}
		data = append(dst[:0], raw...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read %s %d: %w", b.owner, b.id, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("store: read %s %d: piece %d is missing", b.owner, b.id, seq)
	}
	return data, nil
}

type blobReader struct {
	ctx   context.Context
	b     *Blob
	seq   int
	piece []byte
	buf   []byte // the array pieces are read into
	read  int64
	err   error
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.piece) == 0 {
		if r.read == r.b.size {
			return 0, io.EOF
		}
		if r.b.q == nil {
			r.err = io.ErrUnexpectedEOF
			return 0, r.err
		}
		if r.buf, r.err = r.b.piece(r.ctx, r.seq, r.buf); r.err != nil {
			return 0, r.err
		}
		r.piece = r.buf
		r.seq++
	}
	if r.read+int64(len(r.piece)) > r.b.size {
		r.err = fmt.Errorf("store: read %s %d: pieces changed while read (more than %d bytes)", r.b.owner, r.b.id, r.b.size)
		return 0, r.err
	}
	n := copy(p, r.piece)
	r.piece = r.piece[n:]
	r.read += int64(n)
	return n, nil
}

// Execer is what writes run on: a transaction, or the writer.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// BlobWriter stores what is written to it as the value of (owner, id) in
// pieces of ChunkSize, each inserted as soon as it is full, so that it holds
// one piece at a time; Close inserts the last. The row's own column is to
// hold an empty value (OpenBlob, Unspill). Where the pieces become visible
// is the caller's: written in the transaction of the row that names them,
// they appear with it or not at all.
type BlobWriter struct {
	ctx   context.Context
	ex    Execer
	owner string
	id    int64
	buf   []byte
	seq   int
	n     int64
	err   error // the first failed insert, sticky
	done  bool
}

// NewBlobWriter returns a writer of the pieces of (owner, id) through ex.
func NewBlobWriter(ctx context.Context, ex Execer, owner string, id int64) *BlobWriter {
	return &BlobWriter{ctx: ctx, ex: ex, owner: owner, id: id}
}

// Write buffers p and inserts every piece it fills.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errWriterClosed
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, ChunkSize)
		}
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == ChunkSize {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush inserts the buffered piece.
func (w *BlobWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.ex.ExecContext(w.ctx, `INSERT INTO blob_chunk (owner, id, seq, data) VALUES (?, ?, ?, ?)`, w.owner, w.id, w.seq, w.buf); err != nil {
		w.err = fmt.Errorf("store: write %s %d piece %d: %w", w.owner, w.id, w.seq, err)
		return w.err
	}
	w.seq++
	w.n += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Close inserts the last piece. A value with no bytes is an error: an
// empty column would read as "in pieces" and find none.
func (w *BlobWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errWriterClosed
	}
	w.done = true
	if err := w.flush(); err != nil {
		return err
	}
	if w.n == 0 {
		w.err = fmt.Errorf("store: write %s %d: %w", w.owner, w.id, errEmptyValue)
		return w.err
	}
	return nil
}

// Err is the error of the first insert that failed, if any: what a writer
// above it reports may wrap it or not.
func (w *BlobWriter) Err() error { return w.err }

// Size is the number of bytes stored so far.
func (w *BlobWriter) Size() int64 { return w.n }

var (
	errEmptyValue   = errors.New("empty value")
	errWriterClosed = errors.New("store: blob writer closed")
)

// DeletePieces deletes the pieces of (owner, id).
func DeletePieces(ctx context.Context, ex Execer, owner string, id int64) error {
	if _, err := ex.ExecContext(ctx, `DELETE FROM blob_chunk WHERE owner = ? AND id = ?`, owner, id); err != nil {
		return fmt.Errorf("store: delete %s %d: %w", owner, id, err)
	}
	return nil
}
