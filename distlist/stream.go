package distlist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/secgate/secgate/store"
)

// A row's message is in memory (j.raw, read with the row when it fits one
// piece) or read from its pieces as a stream (j.blob): the guard reads it
// once to its end, and DATA writes it as the guard read it, so that a big
// message is never whole in memory.

// size is the size of j's message in bytes.
func (j *job) size() int64 {
	if j.blob != nil {
		return j.blob.Size()
	}
	return int64(len(j.raw))
}

// head is the start of j's message, holding its header section.
func (j *job) head() []byte {
	if j.blob != nil {
		return j.blobHead
	}
	return j.raw
}

// openBlob reads the size and the first piece of a message stored in
// pieces.
func (j *job) openBlob(ctx context.Context, q store.Querier) error {
	b, err := store.OpenBlob(ctx, q, "outbox", j.id, nil)
	if err != nil {
		return err
	}
	if j.blobHead, err = b.Head(ctx); err != nil {
		return err
	}
	j.blob = b
	return nil
}

// readError is a message that could not be read from the database: the
// row is tried again later, not refused.
type readError struct{ err error }

func (e *readError) Error() string { return "message not read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// lineCheck passes a message through and checks as it goes that it holds
// no NUL and that every line ends with CRLF; err is the first refusal,
// readErr an error of the reader below.
type lineCheck struct {
	r       io.Reader
	off     int64
	prev    byte
	err     error
	readErr error
}

func (c *lineCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if c.err != nil {
			break
		}
		at := c.off + int64(i)
		switch {
		case b == 0:
			c.err = refuse("message contains NUL")
		case c.prev == '\r' && b != '\n':
			c.err = refuse("bare CR at offset %d", at-1)
		case b == '\n' && c.prev != '\r':
			c.err = refuse("bare LF at offset %d", at)
		}
		c.prev = b
	}
	c.off += int64(n)
	if err == io.EOF && c.prev == '\r' && c.err == nil {
		c.err = refuse("bare CR at offset %d", c.off-1)
	}
	if err != nil && err != io.EOF {
		c.readErr = &readError{err}
	}
	return n, err
}

// outMessage is the message of one row as smtpConn.send guards and
// writes it: its bytes, or its pieces read as a stream. The guard reads a
// stream once to its end and records its SHA-256 sum; WriteTo writes the
// stream again and fails, before the end of the data, unless it read
// exactly that.
type outMessage struct {
	ctx  context.Context
	raw  []byte
	blob *store.Blob
	sum  []byte // of what the guard read of blob
}

// message is j's message for send.
func (j *job) message(ctx context.Context) *outMessage {
	return &outMessage{ctx: ctx, raw: j.raw, blob: j.blob}
}

// memMessage is a message in memory.
func memMessage(raw []byte) *outMessage { return &outMessage{raw: raw} }

// reader returns a reader of m from its start.
func (m *outMessage) reader() io.Reader {
	if m.blob == nil {
		return bytes.NewReader(m.raw)
	}
	return m.blob.NewReader(m.ctx)
}

// WriteTo writes m to w. A message read from its pieces must have the sum
// the guard recorded; otherwise, or when it cannot be read, WriteTo fails
// before the end of the data, and the caller drops the connection rather
// than end the data: the server discards the partial message.
func (m *outMessage) WriteTo(w io.Writer) (int64, error) {
	if m.blob == nil {
		n, err := w.Write(m.raw)
		return int64(n), err
	}
	if m.sum == nil {
		return 0, errors.New("the message was not guarded")
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), m.reader())
	if err != nil {
		return n, err
	}
	if !bytes.Equal(h.Sum(nil), m.sum) {
		return n, errors.New("the stored message changed after the guard read it")
	}
	return n, nil
}

// errAborted wraps what stopped the data of a message that was not sent.
func errAborted(err error) error {
	return fmt.Errorf("message not written whole, the connection dropped before its end: %w", err)
}
