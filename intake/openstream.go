package intake

import (
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// ReaderAtRest is an AtRest that reads a sealed value as it opens it
// (*crypto.Key, with its data keys). With it, a big PGP/MIME report is
// decrypted from the pieces of its row as they are read: the message is
// never whole in memory, only its plaintext.
type ReaderAtRest interface {
	ReadAtRest(r io.Reader) (io.Reader, error)
}

// streamOpener is an Opener that opens a message from a stream of its
// stored bytes (CryptoOpener).
type streamOpener interface {
	OpenStream(ctx context.Context, stream func() (io.Reader, error), attached []string, raw func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error)
}

// openStream opens m from the pieces it is stored in, when the opener and
// the key at rest can: m's bytes are let go first. handled is false when
// it cannot, and then m is as it was.
func (m *msgCtx) openStream(ctx context.Context, candidates []string, team []Member) (op *Opened, handled bool, err error) {
	so, ok := m.opener(ctx).(streamOpener)
	if !ok {
		return nil, false, nil
	}
	stream := m.rawStream(ctx)
	if stream == nil {
		return nil, false, nil
	}
	var keys []string
	if m.attached != nil {
		keys = m.attached.keys
	} else {
		r, err := stream()
		if err == nil {
			keys, err = attachedKeysFrom(r)
		}
		if err != nil {
			return nil, false, nil
		}
	}
	m.raw = nil
	op, err = so.OpenStream(ctx, stream, keys, func() ([]byte, error) { return m.rawBytes(ctx) }, candidates, team, m.now)
	return op, true, err
}

// rawStream returns a function that reads m's stored message from its
// pieces, from the start each time it is called, or nil when m is not
// stored in pieces or the key at rest cannot read it so.
func (m *msgCtx) rawStream(ctx context.Context) func() (io.Reader, error) {
	rest, ok := m.p.o.AtRest.(ReaderAtRest)
	if !ok {
		return nil
	}
	q := m.reader()
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT length(raw) FROM inbound_raw WHERE inbound_id = ?`, m.in.ID).Scan(&n); err != nil || n > 0 {
		return nil
	}
	owner, pid, err := storedPieces(ctx, q, m.in.ID)
	if err != nil {
		return nil
	}
	return func() (io.Reader, error) {
		b, err := store.OpenBlob(ctx, q, owner, pid, nil)
		if err != nil {
			return nil, err
		}
		return rest.ReadAtRest(b.NewReader(ctx))
	}
}

// OpenStream is OpenStored of a message that stream reads from where it
// is stored, whose clear parts hold the armored keys attached
// (attachedKeys): a PGP/MIME message is decrypted as it is read
// (crypto.OpenFrom), never whole in memory; any other is read whole from
// raw and opened by OpenStored, as is one that stream fails to read.
func (c *CryptoOpener) OpenStream(ctx context.Context, stream func() (io.Reader, error), attached []string, rawFn func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error) {
	ks := c.keys(candidates, team, now)
	ks.add(attached)
	native, handled, err := c.openFrom(stream, ks.options())
	if handled {
		return c.opened(native, err, ks, func(opts crypto.OpenOptions) (*crypto.Opened, error) {
			if again, handled, err := c.openFrom(stream, opts); handled {
				return again, err
			}
			raw, err := rawFn()
			if err != nil {
				return nil, err
			}
			return crypto.Open(raw, opts)
		})
	}
	return c.OpenStored(ctx, rawFn, candidates, team, now)
}

// attachedKeys returns the armored public keys in the clear parts of raw
// (keys inside an encrypted part are found after decryption).
func attachedKeys(raw []byte) []string {
	keys, _ := attachedKeysFrom(bytes.NewReader(raw))
	return keys
}

// attachedKeysFrom is attachedKeys of the message r reads.
func attachedKeysFrom(r io.Reader) ([]string, error) {
	var s keyScanner
	if _, err := io.Copy(&s, r); err != nil {
		return nil, err
	}
	return s.keys, nil
}

var endPGPKey = []byte("-----END PGP PUBLIC KEY BLOCK-----")

// maxKeyBlock bounds an attached key block: a public key with its user IDs
// and signatures takes kilobytes, tens of them with thousands of
// signatures; a block longer than this is not a key to use.
const maxKeyBlock = 1 << 20

// keyScanner finds the armored public keys in what is written to it: at
// most four blocks, each from its BEGIN line to its END line, in LF form;
// a BEGIN line without an END line after it ends the search. A block
// longer than maxKeyBlock is skipped: the search goes on after its END
// line. It holds the block it gathers (at most maxKeyBlock), and
// otherwise only what may start a BEGIN or an END line.
type keyScanner struct {
	keys     []string
	buf      []byte // from a BEGIN line in a block, else a tail
	searched int    // bytes of buf searched for the END line
	inBlock  bool
	skipped  bool // the block is over maxKeyBlock: buf holds only a tail
}

func (s *keyScanner) Write(p []byte) (int, error) {
	if len(s.keys) >= 4 {
		return len(p), nil
	}
	s.buf = append(s.buf, p...)
	for len(s.keys) < 4 {
		if !s.inBlock {
			i := bytes.Index(s.buf, pgpKey)
			if i < 0 {
				if keep := len(pgpKey) - 1; len(s.buf) > keep {
					s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
				}
				break
			}
			s.buf, s.inBlock, s.searched = append(s.buf[:0], s.buf[i:]...), true, 0
			continue
		}
		from := max(s.searched-len(endPGPKey)+1, 0)
		end := bytes.Index(s.buf[from:], endPGPKey)
		if end < 0 {
			s.searched = len(s.buf)
			if s.skipped || len(s.buf) > maxKeyBlock {
				keep := len(endPGPKey) - 1
				s.buf, s.searched, s.skipped = bytes.Clone(s.buf[len(s.buf)-keep:]), keep, true
			}
			break
		}
		end += from
		if !s.skipped && end+len(endPGPKey) <= maxKeyBlock {
			s.keys = append(s.keys, strings.ReplaceAll(string(s.buf[:end+len(endPGPKey)]), "\r\n", "\n"))
		}
		s.buf, s.inBlock, s.skipped = append(s.buf[:0], s.buf[end:]...), false, false
	}
	return len(p), nil
}
