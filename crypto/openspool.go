package crypto

import (
	"bytes"
	"errors"
	"hash"
	"io"
)

// OpenFromSpooled is OpenFrom decrypting a plaintext bigger than
// SpoolAbove into a spool that spools makes rather than into memory: the
// plaintext is hashed for its identity on the way, and used only once the
// whole message was read and its integrity check passed (a spool whose
// message failed is discarded). When the decrypted content is of a form
// read from the spool exactly as Open reads it from memory (SpooledEntity),
// the result's Spooled holds its entity and Entity is nil; otherwise the
// plaintext is read back whole and opened as OpenFrom opens it. The
// results and errors are OpenFrom's. When a spool cannot be made, written
// or read back, handled is false, as when stream fails.
func OpenFromSpooled(stream func() (io.Reader, error), opts OpenOptions, spools func() (Spool, error)) (out *Opened, handled bool, err error) {
	out, handled, err = openFrom(stream, opts, spools, SpoolAbove)
	var se *spoolError
	if errors.As(err, &se) {
		return nil, false, nil
	}
	return out, handled, err
}

// spoolError is an error of the spool, not of the message.
type spoolError struct{ err error }

func (e *spoolError) Error() string   { return "crypto: spool: " + e.err.Error() }
func (e *spoolError) Unwrap() []error { return []error{ErrSpool, e.err} }

// plainSpool is a plaintext decrypted into a spool: its length, as
// decrypted and in CRLF form, and its identity's hash.
type plainSpool struct {
	spool   Spool
	n, crlf int64
	hash    hash.Hash
	reads   spoolReads // its reading back while it is opened
}

// len is the plaintext's length: plain's, or the spool's when spooled.
func (p *plainSpool) len(plain []byte) int64 {
	if p == nil {
		return int64(len(plain))
	}
	return p.n
}

// identity is plaintextIdentity of the plaintext.
func (p *plainSpool) identity(plain []byte) []byte {
	if p == nil {
		return plaintextIdentity(plain)
	}
	return p.hash.Sum(nil)
}

// readPlain reads the plaintext r returns, to its end or to one byte past
// maxPlain: into memory, or, past SpoolAbove bytes when src has spools,
// into a spool (the plaintext returned is then nil).
func (src pgpSource) readPlain(r io.Reader, maxPlain int64) ([]byte, *plainSpool, error) {
	if src.spools == nil {
		b, err := readAllSized(r, maxPlain, src.size)
		return b, nil, err
	}
	lr := io.LimitReader(r, maxPlain+1)
	head, err := readAllSized(lr, int64(src.above), src.above)
	if err != nil || len(head) <= src.above {
		return head, nil, err
	}
	s, err := src.spools()
	if err != nil {
		return nil, nil, &spoolError{err}
	}
	p := &plainSpool{spool: s, hash: newPlaintextHash()}
	sw := &stickyWriter{w: s}
	cc := &crlfCounter{}
	w := io.MultiWriter(sw, p.hash, cc)
	w.Write(head)
	n, err := io.Copy(w, lr)
	p.n, p.crlf = int64(len(head))+n, cc.n
	if sw.err != nil {
		return nil, p, &spoolError{sw.err}
	}
	if err != nil {
		return nil, p, err
	}
	if err := s.Close(); err != nil {
		return nil, p, &spoolError{err}
	}
	return nil, p, nil
}

// crlfCounter counts the length of what is written to it in CRLF form
// (canonCRLF: a bare LF becomes CRLF).
type crlfCounter struct {
	n    int64
	prev byte
}

func (c *crlfCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' && c.prev != '\r' {
			c.n++
		}
		c.prev = b
	}
	c.n += int64(len(p))
	return len(p), nil
}

// SpooledEntity is the content entity of a message opened by
// OpenFromSpooled whose plaintext is in a spool: the bytes Entity would
// hold, read from the spool in CRLF form.
type SpooledEntity struct {
	spool  Spool
	off, n int64  // where the entity lies in the plaintext in CRLF form
	header []byte // its header section, up to the blank line
}

// Open returns a reader of the entity. Its errors are ErrSpool: the
// spool could not be read back, or read short.
func (e *SpooledEntity) Open() (io.Reader, error) { return e.openIn(&spoolReads{}) }

// openIn is Open, its failures kept in reads.
func (e *SpooledEntity) openIn(reads *spoolReads) (io.Reader, error) {
	r, err := reads.open(e.spool)
	if err != nil {
		return nil, err
	}
	cr := &crlfReader{r: r, reads: &streamReads{}}
	if _, err := io.CopyN(io.Discard, cr, e.off); err != nil {
		return nil, reads.fail(err)
	}
	return reads.wrap(&exactReader{r: io.LimitReader(cr, e.n), left: e.n}), nil
}

// Size is the entity's length.
func (e *SpooledEntity) Size() int64 { return e.n }

// Header is the entity's header section (its fields, CRLF each, and
// the blank line's CRLF), as ProtectedHeaders reads it.
func (e *SpooledEntity) Header() []byte { return append(bytes.Clone(e.header), '\r', '\n') }

// Bytes reads the entity whole, for what needs it in memory.
func (e *SpooledEntity) Bytes() ([]byte, error) {
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	b := make([]byte, e.n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Discard lets the spool go.
func (e *SpooledEntity) Discard() { e.spool.Discard() }

// exactReader fails when r ends before left bytes.
type exactReader struct {
	r    io.Reader
	left int64
}

func (x *exactReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	x.left -= int64(n)
	if err == io.EOF && x.left > 0 {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// keepFor discards the spool unless out's entity is read from it.
func (p *plainSpool) keepFor(out *Opened) {
	if out.Spooled == nil || out.Spooled.spool != p.spool {
		p.spool.Discard()
	}
}

// readAll reads the plaintext back whole.
func (p *plainSpool) readAll() ([]byte, error) {
	r, err := p.reads.open(p.spool)
	if err != nil {
		return nil, err
	}
	b := make([]byte, p.n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, p.reads.fail(err)
	}
	return b, nil
}

// discard lets go of the spool o's entity is read from, if any.
func (o *Opened) discard() {
	if o != nil && o.Spooled != nil {
		o.Spooled.Discard()
		o.Spooled = nil
	}
}
