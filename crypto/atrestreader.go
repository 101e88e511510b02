package crypto

import (
	"bufio"
	"fmt"
	"io"
)

// ReadAtRest returns a reader of the plaintext of a value SealAtRest (or
// EncryptAtRest) sealed with one of k's data keys, whose sealed bytes r
// reads, so that a big value is read as it is opened, never whole. Each
// chunk of the value is authenticated before its plaintext is read; at
// the end the reader checks the whole (nothing cut, nothing after it) and
// returns an error instead of io.EOF when that fails. A value sealed to
// the team key rather than with a data key is refused: open it with
// OpenAtRest.
func (k *Key) ReadAtRest(r io.Reader) (io.Reader, error) {
	if err := k.canOpenAtRest(); err != nil {
		return nil, err
	}
	magic := make([]byte, len(envelopeMagic))
	n, _ := io.ReadFull(r, magic)
	if !isEnvelope(magic[:n]) {
		return nil, fmtErr("read at rest", fmt.Errorf("%w: not sealed with a data key", ErrDecrypt))
	}
	rc, br, err := envelopeContent(k.data, r)
	if err != nil {
		return nil, fmtErr("read at rest", err)
	}
	return &restReader{rc: rc, after: br}, nil
}

// restReader reads a sealed value's content and checks the whole at its
// end.
type restReader struct {
	rc    io.ReadCloser
	after *bufio.Reader
	err   error
}

func (r *restReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.rc.Read(p)
	switch {
	case err == io.EOF:
		r.err = io.EOF
		if cerr := r.rc.Close(); cerr != nil {
			r.err = fmtErr("read at rest", fmt.Errorf("%w: %v", ErrDecrypt, cerr))
		} else if m, _ := r.after.Read(make([]byte, 1)); m != 0 {
			r.err = fmtErr("read at rest", fmt.Errorf("%w: bytes after the sealed value", ErrDecrypt))
		}
	case err != nil:
		r.err = fmtErr("read at rest", fmt.Errorf("%w: %v", ErrDecrypt, err))
	}
	return n, r.err
}
