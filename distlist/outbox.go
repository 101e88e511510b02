package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// Mail is one message to send to a set of recipients. Each recipient gets a
// message of their own.
type Mail struct {
	Kind         string // "ack", "team-copy", "embargo-notice", "prerelease-notice", "announcement", "answer", "reminder", ...
	CaseID       int64
	NoticeID     string // stable: the Message-ID is derived from (NoticeID, recipient)
	Content      crypto.Content
	Encrypt      bool      // asks for encryption; what must be encrypted is encrypted whatever it says
	List         string    // the directory list the mail goes to, if any: its kind is checked again before sending
	ValidThrough time.Time // recipient keys must stay valid until then (zero: now only)
	Recipients   []Recipient
	InReplyTo    string
	References   []string
	ReplyTo      string
	Auto         bool // sets Auto-Submitted: auto-generated
}

// Skipped is a recipient who gets nothing, and why.
type Skipped struct {
	Recipient Recipient
	Reason    string
}

// Event tells the application about something the team should know.
type Event struct {
	ID        int64  // in outbox_event
	Kind      string // EventFailed, EventDelayed, EventKeyInvalid, EventGuard, EventBounced, EventFlagged, EventMissed
	RowID     int64
	NoticeID  string
	CaseID    int64
	Recipient string
	Reason    string
}

// DelayedAfter is the number of deferred attempts after which EventDelayed
// tells the team that a message is late.
const DelayedAfter = 3

// Event kinds.
const (
	EventFailed     = "failed"      // a row failed for good (5xx, too many attempts)
	EventDelayed    = "delayed"     // a row has been deferred DelayedAfter times and is still retried
	EventKeyInvalid = "key-invalid" // the recipient key failed the check right before sending
	EventGuard      = "guard"       // the guard refused a message: a bug
	EventBounced    = "bounced"     // a DSN reported a failure
	EventFlagged    = "flagged"     // an address bounced too often
	EventMissed     = "missed"      // a notice not sent: its disclosure time passed first
)

// OutboxOptions configure NewOutbox.
type OutboxOptions struct {
	DB        *store.DB
	Directory *Directory
	TeamKey   *crypto.Key // unlocked private team key: signs every message
	Config    Config      // defaulted with WithDefaults
	Clock     clock.Clock
	Logger    *slog.Logger
	// Secret overrides the per-install HMAC secret kept in the database.
	Secret []byte
	// OnEvent, if set, is called after each event is committed (to
	// outbox_event, see UntoldEvents). It must not block for long.
	OnEvent func(Event)
}

// Outbox is the durable per-recipient outbox.
type Outbox struct {
	db      *store.DB
	dir     *Directory
	team    *crypto.Key
	cfg     Config
	clock   clock.Clock
	log     *slog.Logger
	secret  []byte
	onEvent func(Event)
	kick    chan struct{}
	running sync.Mutex
	keys    *keyCache
	// big is held by the worker sending a message stored in pieces (over
	// store.ChunkSize): such messages go one at a time, so that two 30 MiB
	// reports' team copies are not in memory together.
	big chan struct{}
	// autocrypt is the Autocrypt header field offering the team key for
	// the From address ("" when the key does not carry it).
	autocrypt autocrypt
	// bufs holds the buffers of messages built and claimed (msgbuf.go).
	bufs messageBuffers
}

// NewOutbox returns an outbox; Run delivers its rows.
func NewOutbox(ctx context.Context, o OutboxOptions) (*Outbox, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.DB == nil || o.TeamKey == nil {
		return nil, errors.New("distlist: outbox needs a database and the team key")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Directory == nil {
		o.Directory = NewDirectory(o.DB, o.Clock, o.Logger)
	}
	secret := o.Secret
	if len(secret) == 0 {
		var err error
		if secret, err = loadSecret(ctx, o.DB); err != nil {
			return nil, err
		}
	}
	return &Outbox{db: o.DB, dir: o.Directory, team: o.TeamKey, cfg: cfg, clock: o.Clock, log: o.Logger,
		secret: secret, onEvent: o.OnEvent, kick: make(chan struct{}, 1), keys: o.Directory.keys, big: make(chan struct{}, 1),
		autocrypt: autocryptFor(o.TeamKey, cfg.From, o.Logger)}, nil
}

// Kick wakes the delivery loop; call it after committing a transaction in
// which Enqueue ran.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

type pending struct {
	r     Recipient
	addr  string
	keyID uint64
	raw   []byte
	err   error
}

// Enqueue queues m inside the caller's transaction tx: one row per
// recipient with the final message bytes. For encrypted mail every
// recipient key is checked now and through m.ValidThrough; recipients who
// fail are returned as Skipped and get nothing. The content is signed once
// and sealed for each recipient alone. Recipients already queued for
// m.NoticeID keep their rows and messages, so Enqueue is idempotent (their
// keys are checked again: one that fails now is reported as Skipped). Call
// Kick after the commit.
func (o *Outbox) Enqueue(ctx context.Context, tx *sql.Tx, m Mail) ([]Skipped, error) {
	return o.enqueue(ctx, tx, m, nil)
}

// enqueue is Enqueue; with a batch, a small message is sealed in the
// background and written by b.Flush.
func (o *Outbox) enqueue(ctx context.Context, tx *sql.Tx, m Mail, b *Batch) ([]Skipped, error) {
	if m.NoticeID == "" || m.Kind == "" {
		return nil, errors.New("distlist: enqueue: mail needs a NoticeID and a Kind")
	}
	list, err := lookupList(ctx, tx, m.List)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
	}
	if list.name != "" && list.kind == "" {
		return nil, fmt.Errorf("distlist: enqueue %s: list %q: %w", m.NoticeID, m.List, ErrNotFound)
	}
	if mustEncrypt(m.Kind, list, m.Encrypt) && !m.Encrypt {
		return nil, fmt.Errorf("%w: %s %s", ErrMustEncrypt, m.Kind, m.NoticeID)
	}
	suspended, err := suspendedFor(ctx, tx, m.Kind, list)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
	}
	now := o.clock.Now()
	have := map[string]bool{} // a recipient listed twice gets one row

	var skipped []Skipped
	var todo []*pending
	for _, r := range m.Recipients {
		addr, err := CanonicalAddress(r.Address)
		if err != nil {
			skipped = append(skipped, Skipped{r, "invalid address"})
			continue
		}
		if have[addr] {
			continue
		}
		have[addr] = true
		if why, ok := suspended[addr]; ok {
			skipped = append(skipped, Skipped{r, "suspended: " + why})
			continue
		}
		p := &pending{r: r, addr: addr}
		if m.Encrypt {
			if r.Key == nil {
				skipped = append(skipped, Skipped{r, "no key"})
				continue
			}
			if err := checkUsable(r.Key, now, m.ValidThrough); err != nil {
				skipped = append(skipped, Skipped{r, keyReason(r.Key, err, m.ValidThrough)})
				continue
			}
			if p.keyID, err = r.Key.EncryptionKeyID(now); err != nil {
				skipped = append(skipped, Skipped{r, keyReason(r.Key, err, m.ValidThrough)})
				continue
			}
		}
		todo = append(todo, p)
	}
	for _, s := range skipped {
		o.log.Warn("recipient skipped", "notice", m.NoticeID, "recipient", s.Recipient.Address, "reason", s.Reason)
	}
	if len(todo) == 0 {
		return skipped, nil
	}

	content := m.Content
	if content.From == "" {
		content.From = o.cfg.From
	}
	from, err := headerAddress(content.From)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: from: %w", m.NoticeID, err)
	}
	// The protected header fields inside the signed part are made safe
	// as the outer ones are: the reader sees those.
	content.From, content.Subject = from, headerSafe(content.Subject)
	signed, err := o.team.Sign(content, now)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: sign: %w", m.NoticeID, err)
	}
	replyTo := ""
	if m.ReplyTo != "" {
		if replyTo, err = headerAddress(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("distlist: enqueue %s: reply-to: %w", m.NoticeID, err)
		}
	}
	// An encrypted message shows the obscured Subject, which the sealed
	// part's protected header records (RFC 9788 HP-Outer); the real one
	// is inside.
	subject := crypto.ObscuredSubject
	if !m.Encrypt {
		subject = encodeText(content.Subject)
	}
	head := func(p *pending) outer {
		return outer{
			From: from, To: formatAddress(p.r.Name, p.addr), Subject: subject, Date: now,
			MessageID: messageID(o.secret, m.NoticeID, p.addr, o.cfg.MessageIDDomain),
			InReplyTo: m.InReplyTo, References: m.References, ReplyTo: replyTo, Auto: m.Auto,
			Autocrypt: o.autocrypt.forFrom(from),
		}
	}
	build := func(p *pending) {
		h := head(p)
		if m.Encrypt {
			// The outer header, then the sealed entity streamed after
			// it into the same buffer.
			buf := o.bufs.get(h.size() + signed.SealedLen())
			p.raw, p.err = signed.AppendSealed(h.headerIn(buf, true).Bytes(), p.r.Key, now)
			return
		}
		ent, err := signed.Entity()
		if err != nil {
			p.err = err
			return
		}
		p.raw, p.err = compose(h, ent)
	}

	// A recipient already queued for the notice keeps its row and its
	// message: the insert does nothing and changes no row. (An exec
	// rather than RETURNING id: database/sql starts a goroutine for the
	// rows of every query in a transaction.)
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (notice_id, kind, case_id, list, recipient, fingerprint, enc_key_id,
		encrypt, valid_through, message_id, token, env_from, state, created, next_attempt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (notice_id, recipient) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
	}
	defer stmt.Close()
	var known knownKeys
	if m.Encrypt {
		if known, err = readKnownKeys(ctx, tx, todo); err != nil {
			return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
		}
	}
	// insertRow returns the new row's id, or 0 when p's recipient was
	// queued for the notice already.
	insertRow := func(p *pending) (int64, error) {
		fpr := ""
		if m.Encrypt {
			fpr = p.r.Key.Fingerprint()
			if err := known.remember(ctx, o, tx, p.r.Key, now); err != nil {
				return 0, err
			}
		}
		tok := verpToken(o.secret, m.NoticeID, p.addr)
		res, err := stmt.ExecContext(ctx, m.NoticeID, m.Kind, m.CaseID, m.List, p.addr, fpr, int64(p.keyID), boolInt(m.Encrypt),
			store.Millis(m.ValidThrough), messageID(o.secret, m.NoticeID, p.addr, o.cfg.MessageIDDomain), tok,
			envelopeFrom(o.cfg.Bounce, tok), store.Millis(now), store.Millis(now))
		if err != nil {
			return 0, fmt.Errorf("distlist: enqueue %s for %s: %w", m.NoticeID, p.addr, err)
		}
		id, err := insertedID(res)
		if err != nil {
			return 0, fmt.Errorf("distlist: enqueue %s for %s: %w", m.NoticeID, p.addr, err)
		}
		return id, nil
	}
	if b != nil && signed.SealedLen() <= batchMax {
		// The rows now, so that what follows in the transaction sees
		// them; the messages when the batch is flushed.
		queued := 0
		for _, p := range todo {
			id, err := insertRow(p)
			if err != nil {
				return nil, err
			}
			if id != 0 {
				b.add(id, p, build)
				queued++
			}
		}
		o.log.Info("mail queued", "notice", m.NoticeID, "kind", m.Kind, "case", m.CaseID,
			"recipients", queued, "skipped", len(skipped), "encrypted", m.Encrypt, "sealing", "batched")
		return skipped, nil
	}
	if m.Encrypt && signed.SealedLen() > store.ChunkSize {
		// Big: each copy sealed straight into the pieces of its row.
		s := sealStream{tx: tx, insertRow: insertRow, head: head, signed: signed, now: now}
		queued, sk, err := s.run(ctx, todo)
		if err != nil {
			return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
		}
		skipped = append(skipped, sk...)
		o.log.Info("mail queued", "notice", m.NoticeID, "kind", m.Kind, "case", m.CaseID,
			"recipients", queued, "skipped", len(skipped), "encrypted", m.Encrypt, "sealing", "streamed")
		return skipped, nil
	}
	rawStmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox_message (outbox_id, raw) VALUES (?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("distlist: enqueue %s: %w", m.NoticeID, err)
	}
	defer rawStmt.Close()
	// Build in parallel while this goroutine writes the rows in order:
	// at most enqueueBudget bytes of built messages (one message when it
	// is bigger) wait to be written, and each is dropped once written.
	queued := len(todo)
	window := max(1, enqueueBudget/(signed.SealedLen()+1024))
	err = buildOrdered(todo, window, build, func(p *pending) error {
		if p.err != nil {
			if m.Encrypt {
				skipped = append(skipped, Skipped{p.r, "could not encrypt: " + p.err.Error()})
				queued--
				return nil
			}
			return fmt.Errorf("distlist: enqueue %s for %s: %w", m.NoticeID, p.addr, p.err)
		}
		id, err := insertRow(p)
		if err != nil {
			return err
		}
		if id == 0 {
			queued--
			p.raw = nil
			return nil
		}
		if err := writeRaw(ctx, tx, rawStmt, id, p.raw); err != nil {
			return fmt.Errorf("distlist: enqueue %s for %s: %w", m.NoticeID, p.addr, err)
		}
		o.bufs.put(p.raw)
		p.raw = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.log.Info("mail queued", "notice", m.NoticeID, "kind", m.Kind, "case", m.CaseID,
		"recipients", queued, "skipped", len(skipped), "encrypted", m.Encrypt)
	return skipped, nil
}

// insertedID is the id of the row an INSERT ... ON CONFLICT DO NOTHING
// inserted, or 0 when it inserted none (the last insert id is then some
// earlier insert's).
func insertedID(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	return res.LastInsertId()
}

// writeRaw stores the final bytes of row id: in its column, or in pieces
// when they are bigger than one.
func writeRaw(ctx context.Context, tx *sql.Tx, stmt *sql.Stmt, id int64, raw []byte) error {
	if _, err := stmt.ExecContext(ctx, id, store.Inline(raw)); err != nil {
		return err
	}
	return store.Spill(ctx, tx, "outbox", id, raw)
}

// enqueueBudget bounds the bytes of built messages Enqueue holds at once.
const enqueueBudget = 16 << 20

// headerAddress parses one address (with an optional display name) and
// formats it safely for a header.
func headerAddress(s string) (string, error) {
	addr, err := CanonicalAddress(s)
	if err != nil {
		return "", err
	}
	name := ""
	if a, err := mail.ParseAddress(s); err == nil {
		name = a.Name
	}
	return formatAddress(name, addr), nil
}

// keyReason is the readable reason a key check failed.
func keyReason(k *crypto.Key, err error, through time.Time) string {
	fpr := k.Fingerprint()
	switch {
	case errors.Is(err, crypto.ErrExpired):
		if !through.IsZero() {
			return fmt.Sprintf("key %s expired or expires before %s", fpr, through.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("key %s expired", fpr)
	case errors.Is(err, crypto.ErrRevoked):
		return fmt.Sprintf("key %s revoked", fpr)
	case errors.Is(err, crypto.ErrNoEncryptKey):
		return fmt.Sprintf("key %s has no usable encryption subkey", fpr)
	}
	return fmt.Sprintf("key %s unusable: %v", fpr, err)
}

// CaseForMessageID returns the case of the outbox row whose Message-ID is
// msgid (with or without <>), for threading replies.
func (o *Outbox) CaseForMessageID(ctx context.Context, msgid string) (int64, bool, error) {
	id := strings.Trim(strings.TrimSpace(msgid), "<>")
	if !isMessageID(id) {
		return 0, false, nil
	}
	var c int64
	err := o.db.Reader().QueryRowContext(ctx, `SELECT case_id FROM outbox WHERE message_id = ?`, id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("distlist: case for message-id: %w", err)
	}
	return c, true, nil
}

// recipientKey parses the stored key with fingerprint fpr, read with the
// row when it was claimed for sending.
func (o *Outbox) recipientKey(fpr string, armored []byte) (*crypto.Key, error) {
	if len(armored) == 0 {
		return nil, fmt.Errorf("distlist: key %s: %w", fpr, ErrNotFound)
	}
	k, err := o.keys.parse(armored)
	if err != nil {
		return nil, fmt.Errorf("distlist: key %s: %w", fpr, err)
	}
	return k, nil
}
