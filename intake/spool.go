package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/secgate/secgate/store"
)

// StreamAtRest is an AtRest that seals and opens as a stream; *crypto.Key
// (the team key) satisfies it. With it, a message bigger than one piece
// goes from the IMAP literal through the sealing into the pieces of its
// row, and back from them into the opening, never whole in memory but as
// its plaintext once opened.
type StreamAtRest interface {
	AtRest
	SealAtRest(w io.Writer) (io.WriteCloser, error)
	OpenAtRest(open func() io.Reader, size int64) ([]byte, error)
}

// spoolOwner owns the pieces of a message streamed as it is fetched. The
// transaction that stores its row names them in inbound_spool
// (storeMessages), so that they belong to the row from the moment it is
// visible; pieces no row names are what a fetch left behind (a crash, a
// lost connection: the message is still on the server and fetched again),
// deleted when the next session starts.
const spoolOwner = "inbound-spool"

// spoolHead is how much of the start of a spooled message is kept for
// its Message-ID and From (headerIdentity): the header section of any
// ordinary message.
const spoolHead = 256 << 10

// spooled is a message streamed from the server into pieces, sealed at
// rest, as it arrived.
type spooled struct {
	route  *route   // the project whose database holds its pieces, sealed with its key
	id     int64    // of its pieces, owner spoolOwner
	sum    [32]byte // SHA-256 of the message
	head   []byte   // its first bytes, holding the header section
	pieces int64
}

// spoolable reports whether a literal of n bytes is streamed into pieces
// rather than read into memory: bigger than one piece, when every
// project's key seals as a stream.
func (p *Poller) spoolable(n int64) bool {
	for _, r := range p.routes {
		if _, ok := r.rest.(StreamAtRest); !ok {
			return false
		}
	}
	return n > store.ChunkSize && n <= literalMax(p.cfg.MaxSize)
}

// spool streams the literal through the SHA-256, the sealing at rest and
// into pieces, each committed as it fills; it holds one piece at a time.
// In a shared mailbox the header is read first (the head's worth, all
// Router.Route reads): the pieces go to the database of the project it
// routes to, sealed with that project's key, as routeOne will decide
// from the same bytes.
func (p *Poller) spool(ctx context.Context, lit imap.LiteralReader) (*spooled, error) {
	var b [8]byte
	rand.Read(b[:])
	sp := &spooled{route: p.home, id: int64(binary.BigEndian.Uint64(b[:]) >> 1)}
	var src io.Reader = lit
	if p.router != nil {
		first := make([]byte, spoolHead)
		n, err := io.ReadFull(lit, first)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("spool: %w", err)
		}
		first = first[:n]
		sp.route = p.routeOf(p.router.Route(first))
		src = io.MultiReader(bytes.NewReader(first), lit)
	}
	db := sp.route.db
	w := store.NewBlobWriter(ctx, db.Writer(), spoolOwner, sp.id)
	seal, err := sp.route.rest.(StreamAtRest).SealAtRest(w)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	head := &headWriter{max: spoolHead}
	n, err := io.Copy(io.MultiWriter(h, head, seal), src)
	if err == nil && n != lit.Size() {
		err = fmt.Errorf("literal of %d bytes ended after %d", lit.Size(), n)
	}
	if err == nil {
		err = seal.Close()
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// Best effort: the next session deletes them otherwise.
		_ = store.DeletePieces(ctx, db.Writer(), spoolOwner, sp.id)
		return nil, fmt.Errorf("spool: %w", err)
	}
	h.Sum(sp.sum[:0])
	sp.head = head.b.Bytes()
	sp.pieces = (w.Size() + store.ChunkSize - 1) / store.ChunkSize
	return sp, nil
}

// dropSpool deletes the pieces fetches left behind, in every project's
// database: those no row names.
func (p *Poller) dropSpool(ctx context.Context) error {
	for _, r := range p.routes {
		if _, err := r.db.Writer().ExecContext(ctx, `DELETE FROM blob_chunk WHERE owner = ?
			AND id NOT IN (SELECT spool FROM inbound_spool)`, spoolOwner); err != nil {
			return fmt.Errorf("intake: delete spooled pieces: %w", err)
		}
	}
	return nil
}

// claimSpool gives the pieces of sp to the inbound row id, in the
// transaction that stores the row.
func claimSpool(ctx context.Context, tx *sql.Tx, sp *spooled, id int64) error {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blob_chunk WHERE owner = ? AND id = ?`, spoolOwner, sp.id).Scan(&n); err != nil {
		return err
	}
	if n != sp.pieces {
		return fmt.Errorf("%d of its %d pieces found", n, sp.pieces)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO inbound_spool (inbound_id, spool) VALUES (?, ?)`, id, sp.id)
	return err
}

// storedPieces returns where the pieces of inbound row id are: under the
// row, or under the spool that inbound_spool names.
func storedPieces(ctx context.Context, q queryer, id int64) (owner string, pid int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT spool FROM inbound_spool WHERE inbound_id = ?`, id).Scan(&pid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "inbound", id, nil
	case err != nil:
		return "", 0, err
	}
	return spoolOwner, pid, nil
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   bytes.Buffer
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// dropSpool deletes, in tx, the pieces of m when it was stored already.
func (m *fetched) dropSpool(ctx context.Context, tx *sql.Tx) error {
	if m.spool == nil {
		return nil
	}
	return store.DeletePieces(ctx, tx, spoolOwner, m.spool.id)
}

// header returns the start of m that holds its header section: the
// message, or the head kept of it as it was spooled.
func (m *fetched) header() []byte {
	if m.spool != nil {
		return m.spool.head
	}
	return m.raw
}

// bytes is what m counts against fetch_bytes: its size as fetched, or, when
// spooled, its size (processing reads it back whole once it is opened).
func (m *fetched) bytes() int64 {
	if m.spool != nil {
		return m.size
	}
	return int64(len(m.raw))
}

// literalMax is the biggest literal fetched for a size limit of max: what
// exceeds the limit is fetched as its header only.
func literalMax(max int64) int64 { return 2*max + 1<<20 }

// openSpilled decrypts the message of inbound row id from its pieces (its
// own, or its spool's): as they are read with a StreamAtRest, so that only
// the plaintext is held whole.
func openSpilled(ctx context.Context, q queryer, rest AtRest, id int64) ([]byte, error) {
	owner, pid, err := storedPieces(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("intake: read inbound %d: %w", id, err)
	}
	b, err := store.OpenBlob(ctx, q, owner, pid, nil)
	if err != nil {
		return nil, fmt.Errorf("intake: read inbound %d: %w", id, err)
	}
	var raw []byte
	if sa, ok := rest.(StreamAtRest); ok {
		raw, err = sa.OpenAtRest(func() io.Reader { return b.NewReader(ctx) }, b.Size())
	} else {
		var ct []byte
		if ct, err = store.Unspill(ctx, q, owner, pid, nil); err == nil {
			raw, err = rest.DecryptAtRest(ct)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("intake: decrypt inbound %d: %w", id, err)
	}
	return raw, nil
}

// storedOpener is an Opener that reads the message it opens from a
// function, so that it need not hold it throughout (CryptoOpener).
type storedOpener interface {
	OpenStored(ctx context.Context, raw func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error)
}

// open opens the message. A message bigger than one piece is handed over
// rather than held: the opener lets it go once decrypted, so that a big
// report's stored bytes are not held while its text and attachments are
// decoded, and what needs them again reads them back (rawBytes).
func (m *msgCtx) open(ctx context.Context, candidates []string, team []Member) (*Opened, error) {
	if m.raw == nil { // inspected from its pieces, not read whole (load)
		if op, handled, err := m.openStream(ctx, candidates, team); handled {
			return op, err
		}
		raw, err := m.rawBytes(ctx)
		if err != nil {
			return nil, err
		}
		m.raw = raw
	}
	opener := m.opener(ctx)
	so, ok := opener.(storedOpener)
	if !ok || len(m.raw) <= store.ChunkSize {
		return opener.Open(ctx, m.raw, candidates, team, m.now)
	}
	if op, handled, err := m.openStream(ctx, candidates, team); handled {
		return op, err
	}
	held := m.raw
	m.raw = nil
	return so.OpenStored(ctx, func() ([]byte, error) {
		if b := held; b != nil {
			held = nil
			return b, nil
		}
		return m.rawBytes(ctx)
	}, candidates, team, m.now)
}

// rawBytes returns the message's stored bytes: those held, or read back
// from the database.
func (m *msgCtx) rawBytes(ctx context.Context) ([]byte, error) {
	if m.raw != nil {
		return m.raw, nil
	}
	raw, err := rawMessage(ctx, m.reader(), m.p.o.AtRest, m.in.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStoredRead, err)
	}
	return raw, nil
}
