package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// EntityStream is a content entity written on demand rather than held:
// Write writes it whole (header fields, blank line, body), the same bytes
// every time it is called; Size is about their number (it sizes buffers
// and tells the outbox the message is big). Its body must be 7-bit, in
// CRLF lines: it is checked as it is signed, not encoded.
type EntityStream struct {
	Write func(w io.Writer) error
	Size  int64
}

// maxStreamedHeader bounds the header of a streamed entity.
const maxStreamedHeader = 64 << 10

// streamBody is the body of an EntityStream: what Write writes past the
// header.
type streamBody struct {
	e    *EntityStream
	skip int64 // the header's length, blank line included
}

// errHeaderRead stops Write once the header was read.
var errHeaderRead = errors.New("header read")

// split reads the entity's header (the first Write, stopped past it) and
// returns it with the body.
func (e *EntityStream) split() ([]byte, *streamBody, error) {
	hw := &headerWriter{}
	if err := e.Write(hw); err != nil && !errors.Is(err, errHeaderRead) {
		return nil, nil, err
	}
	if !hw.done {
		return nil, nil, fmt.Errorf("streamed entity: no header ending within %d bytes", maxStreamedHeader)
	}
	return hw.b, &streamBody{e: e, skip: int64(len(hw.b)) + 2}, nil
}

// headerWriter keeps what is written up to the blank line that ends a
// header, the header's last CRLF included, not the blank line's.
type headerWriter struct {
	b    []byte
	done bool
}

func (h *headerWriter) Write(p []byte) (int, error) {
	start := max(len(h.b)-3, 0)
	h.b = append(h.b, p...)
	if i := bytes.Index(h.b[start:], []byte("\r\n\r\n")); i >= 0 {
		h.b, h.done = h.b[:start+i+2], true
		return 0, errHeaderRead
	}
	if len(h.b) > maxStreamedHeader {
		return 0, fmt.Errorf("streamed entity: header longer than %d bytes", maxStreamedHeader)
	}
	return len(p), nil
}

func (p *protected) bodyLen() int {
	if p.stream != nil {
		return int(p.stream.e.Size - p.stream.skip)
	}
	return len(p.body)
}

// writeTo writes the body to w, in writes of writeChunk bytes.
func (b *streamBody) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, writeChunk)
	if err := b.e.Write(&skipWriter{w: bw, skip: b.skip}); err != nil {
		return err
	}
	return bw.Flush()
}

// skipWriter drops the first skip bytes written to it.
type skipWriter struct {
	w    io.Writer
	skip int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		k := min(int64(len(p)), s.skip)
		s.skip -= k
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// signStream is signEntity of a streamed body: signed as it is written,
// and checked on the way (7-bit, CRLF lines, no occurrence of the
// boundary of the multipart/signed around it, chosen first).
func (k *Key) signStream(header []byte, body *streamBody, at time.Time) (signedPart, string, error) {
	boundary := k.newBoundary()
	if bytes.Contains(header, []byte(boundary)) {
		return signedPart{}, "", fmt.Errorf("boundary occurs in content")
	}
	pr, pw := io.Pipe()
	check := &bodyCheck{w: pw, boundary: []byte(boundary)}
	go func() { pw.CloseWithError(body.writeTo(check)) }()
	arm, micalg, err := k.detachSign(io.MultiReader(bytes.NewReader(header), pr), at)
	pr.CloseWithError(errors.New("signing ended")) // the writer stops if it has not
	if err == nil {
		err = check.err
	}
	if err != nil {
		return signedPart{}, "", err
	}
	return signedAround(boundary, header, micalg, arm), micalg, nil
}

// bodyCheck passes what is written on to w and fails it when it is not
// what a signed multipart body must be.
type bodyCheck struct {
	w        io.Writer
	boundary []byte
	tail     []byte // the last bytes, where the boundary may begin
	prev     byte
	err      error
}

func (c *bodyCheck) Write(p []byte) (int, error) {
	for _, b := range p {
		if b >= 0x80 || b == '\n' && c.prev != '\r' || c.prev == '\r' && b != '\n' {
			c.err = fmt.Errorf("streamed multipart body is not 7-bit CRLF text")
			return 0, c.err
		}
		c.prev = b
	}
	// The boundary within p, or across the last write's end.
	edge := append(c.tail, p[:min(len(p), len(c.boundary)-1)]...)
	if bytes.Contains(p, c.boundary) || bytes.Contains(edge, c.boundary) {
		c.err = fmt.Errorf("boundary occurs in content")
		return 0, c.err
	}
	if len(p) >= len(c.boundary)-1 {
		edge = p
	}
	c.tail = append(c.tail[:0], edge[len(edge)-min(len(edge), len(c.boundary)-1):]...)
	return c.w.Write(p)
}
