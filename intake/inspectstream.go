package intake

import (
	"context"
	"io"
)

// load reads m's stored message for its inspection. A message stored in
// pieces that the opener can open from them (openStream) is inspected as
// they are read, never whole, the keys attached to it found on the way,
// and m.raw stays nil; any other is read whole into m.raw.
func (m *msgCtx) load(ctx context.Context) error {
	if _, ok := m.p.o.Opener.(streamOpener); ok {
		if stream := m.rawStream(ctx); stream != nil {
			keys := &keyScanner{}
			if in, ok, err := inspectStream(stream, m.p.lim, keys); ok {
				m.insp, m.limitErr, m.attached = in, err, keys
				return nil
			}
		}
	}
	raw, err := rawMessage(ctx, m.p.o.DB.Reader(), m.p.o.AtRest, m.in.ID)
	if err != nil {
		return err
	}
	m.raw = raw
	m.insp, m.limitErr = Inspect(m.raw, m.p.lim)
	return nil
}

// inspectStream is Inspect of the message stream reads, from its start
// each time it is called; the whole message is also written to tee (the
// one pass over it that reads it all). ok is false when reading it
// failed: nothing was decided.
func inspectStream(stream func() (io.Reader, error), lim Limits, tee io.Writer) (in *Inspection, ok bool, err error) {
	var failed error
	open := func() io.Reader {
		r, err := stream()
		if err != nil {
			failed = err
			return eofReader{}
		}
		return &trackedReader{r: r, failed: &failed}
	}
	whole := &trackedReader{r: io.TeeReader(open(), tee), failed: &failed}
	in, err = inspect(open(), whole, lim)
	if _, cerr := io.Copy(io.Discard, whole); cerr != nil && failed == nil {
		failed = cerr
	}
	if failed == nil && lim.MaxSize > 0 && whole.n > lim.MaxSize {
		in, err = inspectTooBig(open(), whole.n, lim)
	}
	if failed != nil {
		return nil, false, nil
	}
	return in, true, err
}

// trackedReader counts what it reads and keeps the first read error but
// io.EOF, so that a failed read is never taken for the message's end.
type trackedReader struct {
	r      io.Reader
	n      int64
	failed *error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF && *t.failed == nil {
		*t.failed = err
	}
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
