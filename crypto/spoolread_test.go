package crypto

import (
	"errors"
	"io"
	"testing"
)

// brokenSpool is a memSpool whose Open number breakAt (from 1; 0: none)
// gives a reader that fails, or ends (short), after at bytes.
type brokenSpool struct {
	memSpool
	breakAt, opens int
	at             int64
	short          bool
	hit            bool // the broken reader failed or ended early
}

func (s *brokenSpool) Open() (io.Reader, error) {
	r, err := s.memSpool.Open()
	s.opens++
	if err != nil || s.opens != s.breakAt {
		return r, err
	}
	return &brokenReader{r: r, left: s.at, s: s}, nil
}

type brokenReader struct {
	r    io.Reader
	left int64
	s    *brokenSpool
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if n, _ := b.r.Read(p[:min(len(p), 1)]); n == 0 && len(p) > 0 {
			return 0, io.EOF // nothing was left: not broken
		}
		b.s.hit = true
		if b.s.short {
			return 0, io.EOF
		}
		return 0, errors.New("disk I/O error")
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// TestSpoolReadBackFails: a spool that fails, or ends short, when read
// back, at any of its readings and at any point of one, fails opening and
// decoding with ErrSpool (the store failed, not the message) and never
// with what the reading made of it: not a signature that does not verify,
// not a message that is not MIME, not a short attachment taken as whole.
// OpenFromSpooled then leaves the message to OpenFrom (a spoolError), and
// every spool made is discarded.
func TestSpoolReadBackFails(t *testing.T) {
	team, alice := testKey(t, "team"), testKey(t, "alice")
	opts := OpenOptions{Decrypt: team, Verifiers: []*Key{alice.Public()}, Now: t0}
	msgs := spoolMessages(t, team, alice)
	for _, name := range []string{"signed part (as sent)", "one-pass, mixed", "mixed, a signed part", "signed, not verified", "text, not signed"} {
		raw := msgs[name]
		n := 0
		clean := &brokenSpool{}
		if _, _, err := openFrom(streamOf(raw, &n), opts, func() (Spool, error) { return clean, nil }, 16); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := 1; k <= clean.opens; k++ {
			for _, at := range []int64{0, 100, 3000} {
				for _, short := range []bool{false, true} {
					s := &brokenSpool{breakAt: k, at: at, short: short}
					_, handled, err := openFrom(streamOf(raw, &n), opts, func() (Spool, error) { return s, nil }, 16)
					if !s.hit {
						continue
					}
					// OpenFromSpooled leaves to OpenFrom what fails so.
					var se *spoolError
					if !errors.As(err, &se) {
						t.Errorf("%s, reading %d broken at %d (short %v): handled %v, %v; want ErrSpool", name, k, at, short, handled, err)
					}
					if !s.discarded {
						t.Errorf("%s, reading %d broken at %d (short %v): spool kept", name, k, at, short)
					}
				}
			}
		}
	}
	// The entity read back for its text and attachments.
	for _, name := range []string{"signed part (as sent)", "one-pass, mixed", "mixed, a signed part"} {
		for _, at := range []int64{0, 100, 3000} {
			for _, short := range []bool{false, true} {
				n := 0
				s := &brokenSpool{}
				o, _, err := openFrom(streamOf(msgs[name], &n), opts, func() (Spool, error) { return s, nil }, 16)
				if err != nil || o.Spooled == nil {
					t.Fatalf("%s: %v, %+v", name, err, o)
				}
				s.breakAt, s.at, s.short = s.opens+1, at, short
				var made []*memSpool
				_, atts, err := textBodyFromAbove(o.Spooled, func() (Spool, error) {
					m := &memSpool{}
					made = append(made, m)
					return m, nil
				}, 16)
				if !s.hit {
					t.Fatalf("%s: broken at %d, never reached", name, at)
				}
				if !errors.Is(err, ErrSpool) || errors.Is(err, ErrNotMIME) || atts != nil {
					t.Errorf("%s: TextBodyFrom broken at %d (short %v): %d attachments, %v; want ErrSpool alone", name, at, short, len(atts), err)
				}
				for _, m := range made {
					if !m.discarded {
						t.Errorf("%s: broken at %d (short %v): an attachment's spool kept", name, at, short)
					}
				}
			}
		}
	}
}
