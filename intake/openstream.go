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
	OpenStream(ctx context.Context, stream func() (io.Reader, error), raw func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error)
}

// openStream opens m from the pieces it is stored in, when the opener and
// the key at rest can: m's bytes are let go first. handled is false when
// it cannot, and then m is as it was.
func (m *msgCtx) openStream(ctx context.Context, candidates []string, team []Member) (op *Opened, handled bool, err error) {
	so, ok := m.p.o.Opener.(streamOpener)
	if !ok {
		return nil, false, nil
	}
	stream := m.rawStream(ctx)
	if stream == nil {
		return nil, false, nil
	}
	m.raw = nil
	op, err = so.OpenStream(ctx, stream, func() ([]byte, error) { return m.rawBytes(ctx) }, candidates, team, m.now)
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
// is stored: a PGP/MIME message is decrypted as it is read
// (crypto.OpenFrom), never whole in memory; any other is read whole from
// raw and opened by OpenStored, as is one that stream fails to read.
func (c *CryptoOpener) OpenStream(ctx context.Context, stream func() (io.Reader, error), rawFn func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error) {
	ks := c.keys(candidates, team, now)
	r, err := stream()
	if err == nil {
		var keys []string
		keys, err = attachedKeysFrom(r)
		ks.add(keys)
	}
	if err == nil {
		native, handled, err := crypto.OpenFrom(stream, ks.options())
		if handled {
			return c.opened(native, err, ks, func(opts crypto.OpenOptions) (*crypto.Opened, error) {
				if again, handled, err := crypto.OpenFrom(stream, opts); handled {
					return again, err
				}
				raw, err := rawFn()
				if err != nil {
					return nil, err
				}
				return crypto.Open(raw, opts)
			})
		}
	}
	return c.OpenStored(ctx, rawFn, candidates, team, now)
}

// attachedKeys returns the armored public keys in the clear parts of raw
// (keys inside an encrypted part are found after decryption).
func attachedKeys(raw []byte) []string {
	keys, _ := attachedKeysFrom(bytes.NewReader(raw))
	return keys
}

var endPGPKey = []byte("-----END PGP PUBLIC KEY BLOCK-----")

// attachedKeysFrom is attachedKeys of the message r reads: at most four
// blocks, each from its BEGIN line to its END line, in LF form. It holds
// the block it gathers, and otherwise only what may start a BEGIN line.
func attachedKeysFrom(r io.Reader) ([]string, error) {
	var (
		out      []string
		buf      []byte // from a BEGIN line in a block, else a tail
		searched int    // bytes of buf searched for the END line
		inBlock  bool
		eof      bool
	)
	chunk := make([]byte, 32<<10)
	for len(out) < 4 {
		if !inBlock {
			if i := bytes.Index(buf, pgpKey); i >= 0 {
				buf, inBlock, searched = append(buf[:0], buf[i:]...), true, 0
				continue
			}
			if keep := len(pgpKey) - 1; len(buf) > keep {
				buf = append(buf[:0], buf[len(buf)-keep:]...)
			}
		} else {
			from := max(searched-len(endPGPKey)+1, 0)
			if end := bytes.Index(buf[from:], endPGPKey); end >= 0 {
				end += from
				out = append(out, strings.ReplaceAll(string(buf[:end+len(endPGPKey)]), "\r\n", "\n"))
				buf, inBlock = append(buf[:0], buf[end:]...), false
				continue
			}
			searched = len(buf)
		}
		if eof {
			break
		}
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		switch {
		case err == io.EOF:
			eof = true
		case err != nil:
			return nil, err
		}
	}
	return out, nil
}
