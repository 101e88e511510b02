package crypto

import "io"

// spoolReads opens readers of spools and keeps the first failure of any
// of them. Every error but the value's end (a read that failed, a value
// shorter than was written) is a spoolError, and reading through a parser
// or a signature check does not hide it: whatever the reading made of the
// failure (a part that is not MIME, a short attachment, a signature that
// does not verify), the caller asks failed, not the error's words, whether
// the store failed rather than the message.
type spoolReads struct{ err error }

// open opens s from its start.
func (r *spoolReads) open(s Spool) (io.Reader, error) {
	sr, err := s.Open()
	if err != nil {
		return nil, r.fail(err)
	}
	return r.wrap(sr), nil
}

// wrap returns a reader of sr whose errors but io.EOF are failures of the
// spool.
func (r *spoolReads) wrap(sr io.Reader) io.Reader { return &spoolReader{r: sr, reads: r} }

// fail records err as the spool's failure, unless one came first, and
// returns the first.
func (r *spoolReads) fail(err error) error {
	if r.err == nil {
		r.err = &spoolError{err}
	}
	return r.err
}

// failed is the spool's first failure if reading it failed, else err.
func (r *spoolReads) failed(err error) error {
	if r.err != nil {
		return r.err
	}
	return err
}

type spoolReader struct {
	r     io.Reader
	reads *spoolReads
}

func (s *spoolReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		return n, s.reads.fail(err)
	}
	return n, err
}
