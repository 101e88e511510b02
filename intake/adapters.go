package intake

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// StackOptions wire a Processor to the real crypto, distlist and cases
// packages.
type StackOptions struct {
	Config    Config
	DB        *store.DB
	TeamKey   *crypto.Key // unlocked private team key
	Directory *distlist.Directory
	Outbox    *distlist.Outbox
	Workflow  *cases.Workflow
	Templates *templates.Set
	Project   templates.Project // TeamAddress and KeyFingerprint at least
	// Self lists further addresses of ours besides the team address (the
	// bounce address, say).
	Self []string
	// EvaluateBy, if set, says by when the team evaluates a report
	// received at received under the named policy (zero: no deadline):
	// the acknowledgement tells the reporter.
	EvaluateBy func(policy string, received time.Time) time.Time
	// Previous, if set, returns the team keys rotated out that still open
	// mail at now (a rotation's overlap); TeamKey may carry more previous
	// keys, for what is stored, which never open new mail.
	Previous func(now time.Time) []*crypto.Key
	// Acks, if set, judges each distributor's reply as an
	// acknowledgement of the notice its thread names.
	Acks   Acknowledger
	Clock  clock.Clock
	Logger *slog.Logger
}

// NewStackProcessor returns a Processor over the real packages.
func NewStackProcessor(o StackOptions) (*Processor, error) {
	if o.Templates == nil || o.DB == nil || o.Directory == nil || o.Outbox == nil || o.Workflow == nil {
		return nil, errors.New("intake: templates, database, directory, outbox and workflow are required")
	}
	if o.TeamKey == nil || !o.TeamKey.IsPrivate() {
		return nil, errors.New("intake: the unlocked private team key is required")
	}
	armored, err := o.TeamKey.ArmorPublic()
	if err != nil {
		return nil, fmt.Errorf("intake: team key: %w", err)
	}
	if o.Project.KeyFingerprint == "" {
		o.Project.KeyFingerprint = o.TeamKey.Fingerprint()
	}
	dir := &DirectoryAdapter{Dir: o.Directory}
	return NewProcessor(ProcessorOptions{
		Config:    o.Config,
		DB:        o.DB,
		AtRest:    o.TeamKey,
		Opener:    &CryptoOpener{TeamKey: o.TeamKey.WithPrevious(), Previous: o.Previous},
		Directory: dir,
		Mailer:    &OutboxAdapter{Outbox: o.Outbox, Directory: o.Directory, From: o.Project.TeamAddress},
		Cases:     &WorkflowAdapter{Workflow: o.Workflow, Directory: o.Directory, EvaluateBy: o.EvaluateBy},
		Acks:      o.Acks,
		Texts:     o.Templates,
		Project:   o.Project,
		TeamKey:   armored,
		Self:      o.Self,
		Clock:     o.Clock,
		Log:       o.Logger,
	}), nil
}

// CryptoOpener opens messages with crypto.Open and the team key; team
// members' keys and the keys that came with the message verify signatures.
type CryptoOpener struct {
	TeamKey *crypto.Key
	// Previous, if set, returns the rotated-out team keys that also open
	// mail at now.
	Previous func(now time.Time) []*crypto.Key
	// spools, when set, makes the spools big attachments are decoded
	// into (withSpools).
	spools func() (crypto.Spool, error)
}

// Open implements Opener.
func (c *CryptoOpener) Open(ctx context.Context, raw []byte, candidates []string, team []Member, now time.Time) (*Opened, error) {
	return c.OpenStored(ctx, func() ([]byte, error) { return raw, nil }, candidates, team, now)
}

// OpenStored is Open of the message raw returns; it holds the message only
// while it decrypts it and calls raw again only to open it a second time
// (a signer's key found inside), so that a big report's stored bytes are
// not held while its text and attachments are decoded.
func (c *CryptoOpener) OpenStored(ctx context.Context, rawFn func() ([]byte, error), candidates []string, team []Member, now time.Time) (*Opened, error) {
	raw, err := rawFn()
	if err != nil {
		return nil, err
	}
	ks := c.keys(candidates, team, now)
	// A key attached to the message may have signed it.
	ks.add(attachedKeys(raw))
	native, err := crypto.Open(raw, ks.options())
	raw = nil
	return c.opened(native, err, ks, func(opts crypto.OpenOptions) (*crypto.Opened, error) {
		raw, err := rawFn()
		if err != nil {
			return nil, err
		}
		return crypto.Open(raw, opts)
	})
}

// openKeys are the keys a message is opened with.
type openKeys struct {
	decrypt   *crypto.Key
	verifiers []*crypto.Key
	armoredBy map[string]string
	keyBy     map[string]*crypto.Key
	now       time.Time // of the key validity checks
}

// keys gathers the team key (and the previous ones still in their
// overlap) to decrypt with, and the team members' keys and the candidates
// to verify with.
func (c *CryptoOpener) keys(candidates []string, team []Member, now time.Time) *openKeys {
	ks := &openKeys{decrypt: c.TeamKey, armoredBy: map[string]string{}, keyBy: map[string]*crypto.Key{}, now: now}
	if c.Previous != nil {
		ks.decrypt = ks.decrypt.WithPrevious(c.Previous(now)...)
	}
	for _, m := range team {
		if k, ok := m.Key.(*crypto.Key); ok && k != nil {
			ks.verifiers = append(ks.verifiers, k)
			ks.keyBy[k.Fingerprint()] = k
		}
	}
	ks.add(candidates)
	return ks
}

// add adds the armored public keys that parse to the verifiers.
func (ks *openKeys) add(armored []string) {
	for _, a := range armored {
		k, err := crypto.ParsePublicKey([]byte(a))
		if err != nil {
			continue
		}
		ks.verifiers = append(ks.verifiers, k)
		ks.armoredBy[k.Fingerprint()] = a
		ks.keyBy[k.Fingerprint()] = k
	}
}

func (ks *openKeys) options() crypto.OpenOptions {
	return crypto.OpenOptions{Decrypt: ks.decrypt, Verifiers: ks.verifiers, Now: ks.now}
}

// opened turns what crypto.Open returned into an Opened: the text and
// attachments decoded, the signer named. reopen opens the message again
// with other options, when the signer's key came inside the encryption.
func (c *CryptoOpener) opened(native *crypto.Opened, err error, ks *openKeys, reopen func(crypto.OpenOptions) (*crypto.Opened, error)) (*Opened, error) {
	decrypt, verifiers, armoredBy, keyBy, now := ks.decrypt, ks.verifiers, ks.armoredBy, ks.keyBy, ks.now
	if native != nil {
		native.Outside = bytes.Clone(native.Outside) // not a slice of raw
	}
	if err != nil {
		var op *Opened
		if native != nil {
			op = &Opened{Native: native, Encrypted: native.Encrypted, Identities: native.Identities}
		}
		switch {
		case errors.Is(err, crypto.ErrNested):
			return op, fmt.Errorf("%w: %v", ErrNested, err)
		case errors.Is(err, crypto.ErrWrongKey):
			oe := &OpenError{Err: ErrWrongKey}
			if native != nil {
				for _, id := range native.EncryptedTo {
					oe.KeyIDs = append(oe.KeyIDs, fmt.Sprintf("%016X", id))
				}
			}
			return op, oe
		case errors.Is(err, crypto.ErrDecrypt):
			return op, fmt.Errorf("%w: %v", ErrUndecryptable, err)
		case errors.Is(err, crypto.ErrTooComplex):
			return op, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return op, err
	}
	op := &Opened{Native: native, Encrypted: native.Encrypted, Inline: native.Inline, Entity: native.Entity,
		Identities: native.Identities, Outside: string(native.Outside)}
	text, atts, err := c.entityText(native)
	if err != nil {
		if errors.Is(err, crypto.ErrTooComplex) {
			return op, fmt.Errorf("%w: %v", ErrTooComplex, err)
		}
		return op, fmt.Errorf("intake: text of message: %w", err)
	}
	// The key that signed may have come inside the encryption: verify
	// again with the keys found there.
	if s := native.Signature; s != nil && errors.Is(s.Err, crypto.ErrUnknownSigner) {
		var more []*crypto.Key
		for _, a := range atts {
			if k, err := crypto.ParsePublicKey(a.Data); err == nil && !k.IsPrivate() {
				more = append(more, k)
				armoredBy[k.Fingerprint()] = string(a.Data)
				keyBy[k.Fingerprint()] = k
			}
		}
		if len(more) > 0 {
			again, err := reopen(crypto.OpenOptions{Decrypt: decrypt, Verifiers: append(verifiers, more...), Now: now})
			if spoolFailed(err) { // the store, not the message: try again
				return op, fmt.Errorf("intake: open again with the keys inside: %w", err)
			}
			if err == nil {
				native = again
				op.Native = again
			}
		}
	}
	op.Text = text
	for _, a := range atts {
		op.Attachments = append(op.Attachments, Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data, Stored: a.Spool})
	}
	if subj, _, ok := crypto.ProtectedHeaders(entityHeader(native)); ok {
		op.Subject = subj
	}
	if s := native.Signature; s != nil {
		if s.Err == nil && s.Fingerprint != "" {
			op.Signer = s.Fingerprint
			op.SignerKey = armoredBy[s.Fingerprint]
			if k := keyBy[s.Fingerprint]; k != nil {
				op.SignerEmails = k.Emails()
			}
			op.SignedWhole = s.Whole
			op.SignatureID = s.ID
		} else if s.Err != nil {
			op.SignatureErr = s.Err
		}
	}
	return op, nil
}

// DirectoryAdapter implements Directory over distlist.
type DirectoryAdapter struct{ Dir *distlist.Directory }

func member(m distlist.Member) Member {
	return Member{Name: m.Name, Address: m.Address, Fingerprint: m.Fingerprint, Key: m.Key, Record: m}
}

// records returns the directory's records of team, or nil (OpenCase then
// reads the team itself) when one is missing.
func records(team []Member) []distlist.Member {
	if team == nil {
		return nil
	}
	out := make([]distlist.Member, 0, len(team))
	for _, m := range team {
		r, ok := m.Record.(distlist.Member)
		if !ok {
			return nil
		}
		out = append(out, r)
	}
	return out
}

// Team implements Directory.
func (d *DirectoryAdapter) Team(ctx context.Context) ([]Member, error) {
	team, err := d.Dir.Team(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(team))
	for i, m := range team {
		out[i] = member(m)
	}
	return out, nil
}

// Distributor implements Directory: addr is on an embargo list.
func (d *DirectoryAdapter) Distributor(ctx context.Context, addr string) (Member, bool, error) {
	lists, err := d.Dir.Lists(ctx)
	if err != nil {
		return Member{}, false, err
	}
	for _, li := range lists {
		if li.Kind != distlist.KindEmbargo {
			continue
		}
		l, err := d.Dir.List(ctx, li.Name)
		if err != nil {
			return Member{}, false, err
		}
		for _, r := range l.Recipients {
			if strings.EqualFold(r.Address, addr) {
				m := Member{Name: r.Name, Address: r.Address}
				if r.Key != nil {
					m.Fingerprint, m.Key = r.Key.Fingerprint(), r.Key
				}
				return m, true, nil
			}
		}
	}
	return Member{}, false, nil
}

// OutboxAdapter implements Mailer over distlist.Outbox.
type OutboxAdapter struct {
	Outbox    *distlist.Outbox
	Directory *distlist.Directory
	From      string // the team address
}

// Enqueue implements Mailer.
func (o *OutboxAdapter) Enqueue(ctx context.Context, tx *sql.Tx, m OutMail) ([]string, error) {
	return o.enqueue(ctx, tx, m, o.Outbox.Enqueue)
}

// Batch implements BatchMailer.
func (o *OutboxAdapter) Batch() MailBatch {
	return &outboxBatch{a: o, Batch: o.Outbox.NewBatch()}
}

// outboxBatch is a MailBatch over distlist.Batch.
type outboxBatch struct {
	a *OutboxAdapter
	*distlist.Batch
}

func (b *outboxBatch) Enqueue(ctx context.Context, tx *sql.Tx, m OutMail) ([]string, error) {
	return b.a.enqueue(ctx, tx, m, b.Batch.Enqueue)
}

// enqueue turns m into the outbox's mail and queues it with queue.
func (o *OutboxAdapter) enqueue(ctx context.Context, tx *sql.Tx, m OutMail,
	queue func(context.Context, *sql.Tx, distlist.Mail) ([]distlist.Skipped, error)) ([]string, error) {
	content, err := bodyContent(m.Body, m.Attachments)
	if err != nil {
		return nil, err
	}
	content.Subject, content.From = m.Subject, o.From
	dm := distlist.Mail{
		Kind: m.Kind, CaseID: m.CaseID, NoticeID: m.NoticeID,
		Content:   content,
		Encrypt:   m.Encrypt,
		InReplyTo: m.InReplyTo, References: m.References, ReplyTo: m.ReplyTo, Auto: m.Auto,
	}
	var skipped []string
	for _, r := range m.Recipients {
		rc := distlist.Recipient{Name: r.Name, Address: r.Address}
		switch {
		case r.Member != nil:
			k, ok := r.Member.(*crypto.Key)
			if !ok || k == nil {
				skipped = append(skipped, r.Address+": no key")
				continue
			}
			rc.Key = k
		case r.Fingerprint != "":
			mem, err := o.Directory.MemberByFingerprint(ctx, r.Fingerprint)
			if err != nil {
				skipped = append(skipped, r.Address+": "+err.Error())
				continue
			}
			rc.Key = mem.Key
		case r.Key != "":
			k, err := crypto.ParsePublicKey([]byte(r.Key))
			if err != nil {
				if m.Encrypt {
					skipped = append(skipped, r.Address+": "+err.Error())
					continue
				}
			} else {
				rc.Key = k
			}
		}
		dm.Recipients = append(dm.Recipients, rc)
	}
	if len(dm.Recipients) == 0 {
		return skipped, nil
	}
	sk, err := queue(ctx, tx, dm)
	if err != nil {
		return nil, err
	}
	for _, s := range sk {
		skipped = append(skipped, s.Recipient.Address+": "+s.Reason)
	}
	return skipped, nil
}

// Kick implements Mailer.
func (o *OutboxAdapter) Kick() { o.Outbox.Kick() }

// CaseForMessageID implements Mailer.
func (o *OutboxAdapter) CaseForMessageID(ctx context.Context, msgid string) (int64, bool, error) {
	return o.Outbox.CaseForMessageID(ctx, msgid)
}

// HandleDSN implements Mailer. A bounce that is not a DSN at all matches
// nothing.
func (o *OutboxAdapter) HandleDSN(ctx context.Context, raw []byte) (bool, error) {
	ok, err := o.Outbox.HandleDSN(ctx, raw)
	if errors.Is(err, distlist.ErrNotDSN) {
		return false, nil
	}
	return ok, err
}

// bodyEntity builds the body MIME entity: text/plain, or multipart/mixed
// with the attachments.
func bodyEntity(body string, atts []Attachment) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(entityLen(body, atts))
	if err := writeBodyEntity(&buf, body, atts, ""); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeBodyEntity writes bodyEntity's entity to w, the multipart's
// boundary the one given (a random one when empty), each attachment from
// its data or read from where it is stored.
func writeBodyEntity(out io.Writer, body string, atts []Attachment, boundary string) error {
	if len(atts) == 0 {
		var h message.Header
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		w, err := message.CreateWriter(out, h)
		if err != nil {
			return fmt.Errorf("intake: body: %w", err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			return fmt.Errorf("intake: body: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("intake: body: %w", err)
		}
		return nil
	}
	var h message.Header
	var params map[string]string
	if boundary != "" {
		params = map[string]string{"boundary": boundary}
	}
	h.SetContentType("multipart/mixed", params)
	w, err := message.CreateWriter(out, h)
	if err != nil {
		return fmt.Errorf("intake: body: %w", err)
	}
	var th message.Header
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	pw, err := w.CreatePart(th)
	if err != nil {
		return fmt.Errorf("intake: body: %w", err)
	}
	pw.Write([]byte(body))
	pw.Close()
	for _, a := range atts {
		var ah message.Header
		ct := a.ContentType
		if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
			ct = "application/octet-stream"
		}
		ah.Set("Content-Type", ct)
		ah.Set("Content-Transfer-Encoding", "base64")
		ah.SetContentDisposition("attachment", map[string]string{"filename": templates.HeaderSafe(a.Filename)})
		aw, err := w.CreatePart(ah)
		if err != nil {
			return fmt.Errorf("intake: attachment: %w", err)
		}
		if err := a.writeTo(aw); err != nil {
			return fmt.Errorf("intake: attachment: %w", err)
		}
		if err := aw.Close(); err != nil {
			return fmt.Errorf("intake: attachment: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("intake: body: %w", err)
	}
	return nil
}

// entityLen estimates the size of bodyEntity's result: the text quoted-
// printable, each attachment in base64 lines of 76 characters, and room for
// the header fields.
func entityLen(body string, atts []Attachment) int {
	n := len(body) + len(body)/8 + 1024
	for _, a := range atts {
		n += int((a.size()+2)/3*4*78/76) + 512
	}
	return n
}

// WorkflowAdapter implements Cases over cases.Workflow.
type WorkflowAdapter struct {
	Workflow   *cases.Workflow
	Directory  *distlist.Directory
	EvaluateBy func(policy string, received time.Time) time.Time // optional
}

func (w *WorkflowAdapter) info(ctx context.Context, c *cases.Case) CaseInfo {
	info := CaseInfo{ID: c.ID, Ref: c.Ref, State: string(c.State), Policy: c.Policy, ReporterAddr: c.ReporterAddr,
		ReporterKey: c.ReporterKey, Lead: c.Lead}
	if w.EvaluateBy != nil {
		info.EvaluateBy = w.EvaluateBy(c.Policy, c.Received)
	}
	return info
}

func caseAttachments(as []Attachment) []cases.Attachment {
	out := make([]cases.Attachment, len(as))
	for i, a := range as {
		out[i] = cases.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data}
		if a.Stored != nil {
			out[i].Stored = a.Stored
		}
	}
	return out
}

// SealMessage implements MessageSealer.
func (w *WorkflowAdapter) SealMessage(subject, text string, atts []Attachment) (any, error) {
	return w.Workflow.SealMessage(subject, text, caseAttachments(atts))
}

// OpenCase implements Cases.
func (w *WorkflowAdapter) OpenCase(ctx context.Context, tx *sql.Tx, r Report) (CaseInfo, error) {
	sealed, _ := r.Sealed.(*cases.SealedMessage)
	c, err := w.Workflow.OpenCase(ctx, tx, cases.Report{
		MessageID: r.MessageID, From: r.From, Key: r.Key, Subject: r.Subject, Text: r.Text,
		Attachments: caseAttachments(r.Attachments), Encrypted: r.Encrypted, Received: r.Received, Sealed: sealed,
		Team: records(r.Team), Archived: r.Archived,
	})
	if err != nil {
		return CaseInfo{}, err
	}
	return w.info(ctx, c), nil
}

// AddMessage implements Cases.
func (w *WorkflowAdapter) AddMessage(ctx context.Context, tx *sql.Tx, caseID int64, m FollowUp) error {
	err := w.Workflow.AddMessage(ctx, tx, caseID, cases.Message{
		Kind: m.Kind, Author: m.Author, MessageID: m.MessageID, Subject: m.Subject, Text: m.Text,
		Attachments: caseAttachments(m.Attachments), Encrypted: m.Encrypted, Received: m.Received, Signer: m.Signer, Told: m.Told,
	})
	if err != nil || m.Key == "" {
		return err
	}
	_, err = w.Workflow.TakeReporterKey(ctx, tx, caseID, m.Author, m.Key, m.MessageID)
	return err
}

// CaseByRef implements Cases.
func (w *WorkflowAdapter) CaseByRef(ctx context.Context, tx *sql.Tx, ref string) (CaseInfo, bool, error) {
	var c *cases.Case
	var err error
	if tx != nil {
		c, err = w.Workflow.GetRefTx(ctx, tx, ref)
	} else {
		c, err = w.Workflow.Get(ctx, ref)
	}
	if errors.Is(err, cases.ErrNotFound) {
		return CaseInfo{}, false, nil
	}
	if err != nil {
		return CaseInfo{}, false, err
	}
	return w.info(ctx, c), true, nil
}

// Archived implements Cases.
func (w *WorkflowAdapter) Archived(ctx context.Context, tx *sql.Tx, ref string) (time.Time, bool, error) {
	return w.Workflow.Archived(ctx, tx, ref)
}

// CaseByID implements Cases.
func (w *WorkflowAdapter) CaseByID(ctx context.Context, tx *sql.Tx, id int64) (CaseInfo, error) {
	c, err := w.Workflow.GetTx(ctx, tx, id)
	if err != nil {
		return CaseInfo{}, err
	}
	return w.info(ctx, c), nil
}

// HandleCommandMail implements Cases.
func (w *WorkflowAdapter) HandleCommandMail(ctx context.Context, m CommandMail) error {
	var native *crypto.Opened
	if m.Opened != nil {
		native, _ = m.Opened.Native.(*crypto.Opened)
	}
	if native != nil && native.Entity == nil && native.Spooled != nil {
		// The workflow reads a command mail's entity in memory.
		entity, err := native.Spooled.Bytes()
		if err != nil {
			return fmt.Errorf("intake: read the decrypted command mail: %w", err)
		}
		cp := *native
		cp.Entity, cp.Spooled = entity, nil
		native = &cp
	}
	cm, err := cases.NewCommandMail(m.Raw, native, m.OpenErr, m.Received)
	if err != nil {
		return err
	}
	cm.CaseID, cm.InboundID = m.CaseID, m.InboundID
	return w.Workflow.HandleCommandMail(ctx, cm)
}

// RecordUntrusted implements Cases.
func (w *WorkflowAdapter) RecordUntrusted(ctx context.Context, tx *sql.Tx, caseID int64, texts ...string) error {
	return w.Workflow.RecordUntrusted(ctx, tx, caseID, texts...)
}

// Alert implements Cases.
func (w *WorkflowAdapter) Alert(ctx context.Context, tx *sql.Tx, caseID int64, subject, text string) error {
	return w.Workflow.Alert(ctx, tx, caseID, subject, text)
}
