package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// partOwner owns the pieces of the big attachments of a message being
// processed, each decoded into pieces of its own as it is read
// (crypto.TextBodySpooled), sealed at rest: message id<<16 + n holds its
// n-th. They live only while the message is processed: the transaction
// that records its outcome deletes them (after the case took its own copy
// and the team copies were sealed from them), and a message processed
// again after a crash first deletes what the crash left.
const partOwner = "inbound-part"

// maxPartSpools bounds the spools of one message (the id's low 16 bits).
const maxPartSpools = 1 << 16

// partSpools returns the maker of m's spools, or nil when m is not big
// or the key at rest cannot seal and read as a stream.
func (m *msgCtx) partSpools(ctx context.Context) func() (crypto.Spool, error) {
	seal, ok := m.p.o.AtRest.(StreamAtRest)
	rest, ok2 := m.p.o.AtRest.(ReaderAtRest)
	if !ok || !ok2 || !m.big() {
		return nil
	}
	n := int64(0)
	return func() (crypto.Spool, error) {
		if n >= maxPartSpools {
			return nil, fmt.Errorf("more than %d big attachments", maxPartSpools)
		}
		s := &partSpool{ctx: ctx, db: m.p.o.DB, rest: rest, id: m.in.ID<<16 + n}
		n++
		s.w = store.NewBlobWriter(ctx, m.p.o.DB.Writer(), partOwner, s.id)
		var err error
		if s.seal, err = seal.SealAtRest(s.w); err != nil {
			return nil, err
		}
		return s, nil
	}
}

// big reports whether m is stored in pieces: only such a message has
// attachments spooled.
func (m *msgCtx) big() bool { return m.in.Size > store.ChunkSize }

// spoolFailed reports whether opening failed because the store did: a
// spool could not be made, written or read back, or the stored message
// could not be read again whole (errStoredRead). The message is then
// tried again, not judged.
func spoolFailed(err error) bool {
	return errors.Is(err, crypto.ErrSpool) || errors.Is(err, errStoredRead)
}

// errStoredRead: the message's stored bytes could not be read back.
var errStoredRead = errors.New("stored message not read")

// dropParts deletes the pieces of m's spools through ex.
func (m *msgCtx) dropParts(ctx context.Context, ex store.Execer) error {
	if !m.big() {
		return nil
	}
	if _, err := ex.ExecContext(ctx, `DELETE FROM blob_chunk WHERE owner = ? AND id >= ? AND id < ?`,
		partOwner, m.in.ID<<16, (m.in.ID+1)<<16); err != nil {
		return fmt.Errorf("intake: delete the attachments spooled for %d: %w", m.in.ID, err)
	}
	return nil
}

// partSpool is a crypto.Spool in pieces of blob_chunk, sealed at rest,
// each piece committed as it fills.
type partSpool struct {
	ctx  context.Context
	db   *store.DB
	rest ReaderAtRest
	id   int64
	w    *store.BlobWriter
	seal io.WriteCloser
	n    int64
}

func (s *partSpool) Write(p []byte) (int, error) {
	n, err := s.seal.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *partSpool) Close() error {
	if err := s.seal.Close(); err != nil {
		return err
	}
	return s.w.Close()
}

func (s *partSpool) Size() int64 { return s.n }

func (s *partSpool) Open() (io.Reader, error) {
	b, err := store.OpenBlob(s.ctx, s.db.Reader(), partOwner, s.id, nil)
	if err != nil {
		return nil, err
	}
	return s.rest.ReadAtRest(b.NewReader(s.ctx))
}

// Discard deletes the pieces; the transaction of the message's outcome
// deletes them otherwise.
func (s *partSpool) Discard() {
	_ = store.DeletePieces(s.ctx, s.db.Writer(), partOwner, s.id)
}

// StoredData is an attachment's content held out of memory: read from
// its start as often as wanted.
type StoredData interface {
	Open() (io.Reader, error)
	Size() int64
}

// size is the attachment's size in bytes.
func (a Attachment) size() int64 {
	if a.Stored != nil {
		return a.Stored.Size()
	}
	return int64(len(a.Data))
}

// contains reports whether the attachment holds sub: its data, or what
// it stored, read as a stream. A stored one that cannot be read counts
// as holding it.
func (a Attachment) contains(sub []byte) bool {
	if a.Stored == nil {
		return bytes.Contains(a.Data, sub)
	}
	r, err := a.Stored.Open()
	if err != nil {
		return true
	}
	buf := make([]byte, 64<<10)
	keep := 0
	for {
		n, err := r.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], sub) {
			return true
		}
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		end := keep + n
		keep = min(len(sub)-1, end)
		copy(buf, buf[end-keep:end])
	}
}

// writeTo writes the attachment's content to w: its data, or what it
// stored, read as a stream.
func (a Attachment) writeTo(w io.Writer) error {
	if a.Stored == nil {
		_, err := w.Write(a.Data)
		return err
	}
	r, err := a.Stored.Open()
	if err != nil {
		return err
	}
	n, err := io.Copy(w, r)
	if err == nil && n != a.Stored.Size() {
		err = fmt.Errorf("read %d of its %d bytes", n, a.Stored.Size())
	}
	return err
}

// bodyContent is the content of mail with the text body and atts: its
// entity whole (bodyEntity), or, when an attachment is stored out of
// memory, written on demand as the outbox signs and seals it, so that
// neither the attachment nor the entity carrying it is ever whole in
// memory.
func bodyContent(body string, atts []Attachment) (crypto.Content, error) {
	stored := false
	for _, a := range atts {
		stored = stored || a.Stored != nil
	}
	if !stored {
		entity, err := bodyEntity(body, atts)
		return crypto.Content{Entity: entity}, err
	}
	var b [24]byte
	rand.Read(b[:])
	boundary := hex.EncodeToString(b[:]) // the same in every write
	return crypto.Content{Stream: &crypto.EntityStream{
		Write: func(w io.Writer) error { return writeBodyEntity(w, body, atts, boundary) },
		Size:  int64(entityLen(body, atts)),
	}}, nil
}

// spooling is an Opener that can decode big attachments into spools.
type spooling interface {
	withSpools(spools func() (crypto.Spool, error)) Opener
}

// withSpools returns a copy of c that decodes each big attachment into a
// spool that spools makes.
func (c *CryptoOpener) withSpools(spools func() (crypto.Spool, error)) Opener {
	s := *c
	s.spools = spools
	return &s
}

// textBody decodes the entity's text and attachments, the big ones into
// spools when c has them.
func (c *CryptoOpener) textBody(entity []byte) (string, []crypto.Attachment, error) {
	if c.spools != nil {
		return crypto.TextBodySpooled(entity, c.spools)
	}
	return crypto.TextBody(entity)
}

// openFrom is crypto.OpenFrom, the plaintext of a big message decrypted
// into a spool when c has spools (crypto.OpenFromSpooled).
func (c *CryptoOpener) openFrom(stream func() (io.Reader, error), opts crypto.OpenOptions) (*crypto.Opened, bool, error) {
	if c.spools != nil {
		return crypto.OpenFromSpooled(stream, opts, c.spools)
	}
	return crypto.OpenFrom(stream, opts)
}

// entityText decodes the text and attachments of what native opened: its
// entity, or the one spooled.
func (c *CryptoOpener) entityText(native *crypto.Opened) (string, []crypto.Attachment, error) {
	if native.Spooled != nil {
		return crypto.TextBodyFrom(native.Spooled, c.spools)
	}
	return c.textBody(native.Entity)
}

// entityHeader is the header of what native opened, for its protected
// header fields.
func entityHeader(native *crypto.Opened) []byte {
	if native.Spooled != nil {
		return native.Spooled.Header()
	}
	return native.Entity
}

// opener is the Opener for m: one that spools its big attachments when m
// is big and the Opener and the key at rest can.
func (m *msgCtx) opener(ctx context.Context) Opener {
	o := m.p.o.Opener
	if s, ok := o.(spooling); ok {
		if spools := m.partSpools(ctx); spools != nil {
			return s.withSpools(spools)
		}
	}
	return o
}
