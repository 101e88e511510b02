package cases

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// CommandMail is a mail from a team member (or signed by a team key) as
// intake hands it to HandleCommandMail.
type CommandMail struct {
	Opened     *crypto.Opened // result of crypto.Open; nil when it failed
	OpenErr    error          // the crypto.Open error, if any
	From       string         // outer From header
	MessageID  string
	InReplyTo  string
	References []string
	Subject    string // outer Subject: names a case by its tag, never carries commands
	Received   time.Time
	// CaseID is the case intake found the thread to point to (0: none);
	// it counts like In-Reply-To.
	CaseID int64
	// InboundID is the stored inbound message (0: none): the same stored
	// message handled again after a crash is recognised as itself.
	InboundID int64
	// FromFields is the number of From header fields (exactly one is
	// allowed); Recipients are the addresses of the outer To and Cc.
	FromFields int
	Recipients []string
}

// Refusal reasons callers and tests can recognise in the audit log.
const (
	ActionRefused = "refused"
	ActionReplay  = "replay"
)

// refusal is why a command mail was not applied.
type refusal struct {
	code   string // the kind of refusal, for the metrics (RefusalCodes)
	reason string
	to     *distlist.Member // who is answered; nil: nobody can be
}

// HandleCommandMail authenticates, authorises and applies a command mail,
// all or nothing, and answers the member (encrypted to their key, signed by
// the team key) with what changed or why nothing did. Everything happens in
// one transaction: the case changes, the audit events, the consumed
// signature and the answer commit together. A replayed signature gets no
// answer, only an audit event. The returned error is for failures of the
// gateway itself (database, outbox); refusals are not errors.
func (w *Workflow) HandleCommandMail(ctx context.Context, m CommandMail) error {
	team, err := w.dir.Team(ctx)
	if err != nil {
		return fmt.Errorf("cases: command mail %s: %w", m.MessageID, err)
	}
	err = w.db.Tx(ctx, func(tx *sql.Tx) error {
		return w.handle(ctx, tx, team, m)
	})
	if err != nil {
		return fmt.Errorf("cases: command mail %s: %w", m.MessageID, err)
	}
	w.kick()
	return nil
}

// session is one command mail being handled.
type session struct {
	w       *Workflow
	tx      *sql.Tx
	team    []distlist.Member
	mail    CommandMail
	now     time.Time
	member  distlist.Member
	actor   string
	c       *Case // the case acted on, nil if none
	cmds    []Command
	text    string
	atts    []Attachment
	done    []string
	after   []func() error // mail sent once every command succeeded
	extra   []string       // answer lines that are not changes (notes, warnings): the answer lists them apart and counts none
	help    bool
	log     bool
	drafts  []string // texts /draft asked for
	replies []string // texts /reply sent to the reporter
	steps   []string // what the timeline's steps carried out in this mail's transaction changed (TellStep)
	link    string   // the published advisory's address, for the reporter's mail at publication
	// noEmbargo: this mail planned the disclosure without an embargo.
	noEmbargo bool
	auditAs   map[int]string // what the audit log says for done[i] instead, when its value is stored encrypted
	sigID     string         // the signature consumed by this mail, "" before authentication
	// approval names the approval this session carries out ("AP-... by
	// NAME <ADDR>"), "" for a member's own mail; breakGlass is the reason
	// of a /break-glass line of the mail (approval.go).
	approval   string
	breakGlass string
}

func (w *Workflow) handle(ctx context.Context, tx *sql.Tx, team []distlist.Member, m CommandMail) error {
	s := &session{w: w, tx: tx, team: team, mail: m, now: w.now()}
	fromAddr := singleAddress(m.From)
	fromMember, fromIsMember := memberByAddr(team, fromAddr)
	answerFrom := func() *distlist.Member {
		if fromIsMember {
			return &fromMember
		}
		return nil
	}
	refuse := func(r refusal) error { return s.refuse(ctx, r) }

	// Authentication.
	var sig *crypto.Signature
	if m.Opened != nil {
		sig = m.Opened.Signature
	}
	switch {
	case m.OpenErr != nil && (m.Opened == nil || sig == nil):
		s.actor = "unauthenticated:" + fromAddr
		return refuse(refusal{code: "unverifiable", reason: "the mail could not be verified: " + openErrText(m.OpenErr) + ". Commands must be in a PGP/MIME signed (or signed and encrypted) mail.", to: answerFrom()})
	case sig == nil:
		s.actor = "unauthenticated:" + fromAddr
		return refuse(refusal{code: "unsigned", reason: "the mail is not signed. Commands are accepted only from mail signed with your OpenPGP key (PGP/MIME).", to: answerFrom()})
	case sig.Err != nil:
		s.actor = "unauthenticated:" + fromAddr
		why := openErrText(sig.Err)
		if !sig.Created.IsZero() && sig.Created.Sub(s.now) > w.cfg.SignatureMaxSkew {
			why = fmt.Sprintf("it is dated %s, in the future", sig.Created.UTC().Format(time.RFC3339))
		}
		return refuse(refusal{code: "bad-signature", reason: "the signature does not verify: " + why + ".", to: answerFrom()})
	case !sig.Whole || m.Opened.Partial:
		s.actor = "unauthenticated:" + fromAddr
		return refuse(refusal{code: "partial-signature", reason: "the signature covers only part of the mail (a signed part inside unsigned parts, or a forwarded mail). Sign the whole message.", to: answerFrom()})
	case sig.ID == "":
		s.actor = "unauthenticated:" + fromAddr
		return refuse(refusal{code: "bad-signature", reason: "the signature has no identity to check for replays.", to: answerFrom()})
	}
	fpr := strings.ToUpper(sig.Fingerprint)
	s.actor = fpr

	// Replay: the signature is consumed whatever happens next.
	_, err := tx.ExecContext(ctx, `INSERT INTO case_signatures (sig_id, fingerprint, created, seen, message_id, inbound_id) VALUES (?, ?, ?, ?, ?, ?)`,
		sig.ID, fpr, store.Millis(sig.Created), store.Millis(s.now), m.MessageID, m.InboundID)
	if store.IsUnique(err) {
		return s.replayed(ctx, sig, fpr)
	}
	if err != nil {
		return fmt.Errorf("record signature: %w", err)
	}
	s.sigID = sig.ID

	member, ok := memberByFpr(team, fpr)
	if !ok {
		return refuse(refusal{code: "not-a-member", reason: fmt.Sprintf("the signing key %s is not the key of a current team member.", fpr), to: answerFrom()})
	}
	s.member = member
	if member.Key == nil {
		return refuse(refusal{code: "no-key", reason: "your key is not in the directory.", to: &member})
	}
	if err := member.Key.Check(sig.Created); err != nil {
		return refuse(refusal{code: "key-invalid", reason: fmt.Sprintf("your key %s was not valid when the mail was signed (%s): %v.", fpr, sig.Created.UTC().Format(time.RFC3339), err), to: &member})
	}
	if err := member.Key.Check(s.now); err != nil {
		return refuse(refusal{code: "key-invalid", reason: fmt.Sprintf("your key %s is not valid now: %v.", fpr, err), to: &member})
	}
	if age := s.now.Sub(sig.Created); age > w.cfg.SignatureMaxAge {
		return refuse(refusal{code: "stale", reason: fmt.Sprintf("the signature was made %s, more than %s ago; commands must be fresh. Send them again.", sig.Created.UTC().Format(time.RFC3339), w.cfg.SignatureMaxAge), to: &member})
	}
	if skew := sig.Created.Sub(s.now); skew > w.cfg.SignatureMaxSkew {
		return refuse(refusal{code: "future", reason: fmt.Sprintf("the signature is dated %s, in the future (more than %s ahead of the gateway clock).", sig.Created.UTC().Format(time.RFC3339), w.cfg.SignatureMaxSkew), to: &member})
	}
	if m.FromFields > 1 {
		return refuse(refusal{code: "from-fields", reason: fmt.Sprintf("the mail has %d From header fields; exactly one is allowed.", m.FromFields), to: &member})
	}
	if !w.cfg.AllowFromMismatch && !addressOf(member, fromAddr) {
		return refuse(refusal{code: "from-mismatch", reason: fmt.Sprintf("the From address %q is not registered to the member whose key signed the mail (%s).", short(m.From), member.Address), to: &member})
	}

	if w.cfg.RequireEncrypted && !m.Opened.Encrypted {
		return refuse(refusal{code: "not-encrypted", reason: "command mail must be signed and then encrypted to the team key.", to: &member})
	}
	if sig.Hash != "" && weakHash(sig.Hash) {
		return refuse(refusal{code: "weak-hash", reason: fmt.Sprintf("the signature uses %s, which is too weak; sign with SHA-256 or better.", sig.Hash), to: &member})
	}
	if why := s.checkProtected(fromAddr); why != "" {
		return refuse(refusal{code: "protected-headers", reason: why, to: &member})
	}

	// The signed text.
	text, atts, err := crypto.TextBody(m.Opened.Entity)
	if err != nil {
		return refuse(refusal{code: "unreadable", reason: "the signed body could not be read: " + openErrText(err) + ".", to: &member})
	}
	s.atts = AttachmentsFrom(atts)
	parsed, err := w.parser.Parse(text)
	if err != nil {
		s.c = s.caseOrNil(ctx, "")
		var pe *ParseError
		if errors.As(err, &pe) {
			return refuse(refusal{code: "parse", reason: problemsText(pe), to: &member})
		}
		return refuse(refusal{code: "parse", reason: err.Error(), to: &member})
	}
	s.cmds = parsed.Commands
	s.text = parsed.Comment

	// Which case: named in the signed part, since anyone who delivers a
	// copy first controls the unsigned Subject and thread.
	need := parsed.Comment != ""
	for _, c := range parsed.Commands {
		need = need || vocabulary[c.Name].needCase
	}
	signed := parsed.Case
	if signed == "" {
		signed = w.signedTag(m.Opened)
	}
	if need && signed == "" {
		s.c = s.caseOrNil(ctx, "")
		return refuse(refusal{code: "no-signed-case", reason: "the signed part of the mail does not name the case: keep the [" + w.refs.Form() + "] tag in the Subject with a client that signs the Subject (Thunderbird, Mutt), or add a line \"/case " + w.refs.Form() + "\". The unsigned Subject and thread are not enough: anyone can change them.", to: &member})
	}
	// Meant for this gateway: the signed headers or the signature say so,
	// or it came to the gateway alone and names its case in the signed
	// part, so that a signed mail a member sent to someone else does not
	// count when re-sent to us.
	if !s.meantForUs(sig) {
		s.c = s.caseOrNil(ctx, signed)
		return refuse(refusal{code: "not-bound", reason: "the signed part does not show the mail was meant for the gateway: its signed To (or the signature's intended recipient) does not name " + w.teamAddr + ", and it was not sent to the gateway alone. Send commands to the team address alone, or with a client that signs the To header.", to: &member})
	}
	if signed != "" {
		c, err := w.loadCase(ctx, tx, "ref = ?", signed)
		if errors.Is(err, ErrNotFound) {
			if at, ok, err := archivedAt(ctx, tx, signed); err != nil {
				return err
			} else if ok {
				return refuse(refusal{code: "archived-case", reason: archivedNote(signed, at) + ": mail cannot change it. `secgate case show -archive " + signed + "` shows it; new findings about it go in a new report, which opens a new case.", to: &member})
			}
			return refuse(refusal{code: "unknown-case", reason: fmt.Sprintf("case %s does not exist.", signed), to: &member})
		}
		if err != nil {
			return err
		}
		s.c = c
		if other, how := s.unsignedCase(ctx); other != 0 && other != c.ID {
			return refuse(refusal{code: "case-mismatch", reason: fmt.Sprintf("the signed part names %s, but the unsigned %s points to another case: refused, in case a copy of your mail was redirected. Send it again.", signed, how), to: &member})
		}
	}
	// No line the gateway sent as someone else's words runs as a command.
	var caseID int64
	if s.c != nil {
		caseID = s.c.ID
	}
	if c, err := untrustedCommand(ctx, tx, caseID, s.cmds); err != nil {
		return err
	} else if c != nil {
		return refuse(refusal{code: "untrusted-line", reason: fmt.Sprintf("line %d %q is a line of untrusted text the gateway sent you as someone else's words (a report or follow-up), not your own: it never runs as a command. If you mean it, write the command yourself.", c.Line, short(displayRaw(c))), to: &member})
	}
	if len(s.cmds) == 0 && s.text == "" {
		return refuse(refusal{code: "empty", reason: "the mail has no commands and no text.", to: &member})
	}

	// Authorisation (each command as the mail's earlier commands leave the
	// case: "/lead take" then "/team add") and application, all or nothing.
	return s.apply(withSession(ctx, s))
}

// apply runs the commands inside a savepoint: if one fails, everything they
// did is rolled back and the mail is refused.
func (s *session) apply(ctx context.Context) error {
	if _, err := s.tx.ExecContext(ctx, "SAVEPOINT commands"); err != nil {
		return err
	}
	var before Case
	if s.c != nil {
		before = *s.c
		before.Team = append([]string(nil), s.c.Team...)
	}
	failed := func(c *Command, err error) error {
		if _, rerr := s.tx.ExecContext(ctx, "ROLLBACK TO commands"); rerr != nil {
			return rerr
		}
		if _, rerr := s.tx.ExecContext(ctx, "RELEASE commands"); rerr != nil {
			return rerr
		}
		if s.c != nil {
			*s.c = before
		}
		s.done, s.after, s.extra, s.steps = nil, nil, nil, nil
		reason := err.Error()
		if c != nil {
			reason = fmt.Sprintf("line %d %q: %v", c.Line, short(displayRaw(c)), err)
		}
		var internal *internalError
		if errors.As(err, &internal) {
			return internal.err
		}
		return s.refuse(ctx, refusal{code: "not-applied", reason: reason, to: &s.member})
	}
	for _, c := range s.cmds {
		if c.Name == "break-glass" {
			s.breakGlass = c.Rest
		}
	}
	for i := range s.cmds {
		c := &s.cmds[i]
		n := len(s.done)
		if err := s.authorize(*c); err != nil {
			return failed(c, err)
		}
		held, err := s.gate(ctx, c)
		if err != nil {
			return failed(c, err)
		}
		if !held {
			if err := s.run(ctx, c); err != nil {
				return failed(c, err)
			}
		}
		logID := GatewayLog // changes outside a case (/list) go to the gateway log
		if s.c != nil {
			logID = s.c.ID
		}
		for k, d := range s.done[n:] {
			if a, ok := s.auditAs[n+k]; ok {
				d = a
			}
			if err := s.w.Audit(ctx, s.tx, logID, s.actor, c.Name, d, s.mail.MessageID); err != nil {
				return failed(c, internalErr(err))
			}
		}
	}
	if s.c != nil && s.text != "" {
		if _, err := s.w.insertMessage(ctx, s.tx, s.c.ID, Message{Kind: KindComment, Author: s.actor, MessageID: s.mail.MessageID,
			Text: s.text, Attachments: s.atts, Encrypted: s.mail.Opened.Encrypted, Received: s.now}); err != nil {
			return failed(nil, internalErr(err))
		}
		if err := s.w.Audit(ctx, s.tx, s.c.ID, s.actor, "comment", "comment stored ("+lineCount(s.text)+")", s.mail.MessageID); err != nil {
			return failed(nil, internalErr(err))
		}
		s.done = append(s.done, "comment added to the case")
	}
	if s.c != nil {
		s.c.Updated = s.now
		if err := s.w.saveCase(ctx, s.tx, s.c); err != nil {
			return failed(nil, internalErr(err))
		}
	}
	for _, f := range s.after {
		if err := f(); err != nil {
			return failed(nil, err)
		}
	}
	if _, err := s.tx.ExecContext(ctx, "RELEASE commands"); err != nil {
		return err
	}
	return s.answerDone(ctx)
}

// internalError marks a failure of the gateway (not of the command).
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

func internalErr(err error) error { return &internalError{err} }

// refuse records a refusal in the audit log and answers the member. A
// member is answered about mail that does not carry their valid signature
// at most once an hour.
func (s *session) refuse(ctx context.Context, r refusal) error {
	caseID := GatewayLog
	if s.c != nil {
		caseID = s.c.ID
	} else {
		caseID = s.guessCase(ctx)
	}
	detail := r.reason
	if r.to == nil {
		detail += " (nobody to answer)"
	}
	s.w.log.InfoContext(ctx, "command mail refused", "actor", s.actor, "message_id", s.mail.MessageID, "case", caseID)
	if err := s.w.Audit(ctx, s.tx, caseID, s.actor, ActionRefused, detail, s.mail.MessageID); err != nil {
		return err
	}
	if err := s.countRefusal(ctx, r.code); err != nil {
		return err
	}
	if s.sigID != "" {
		if _, err := s.tx.ExecContext(ctx, `UPDATE case_signatures SET outcome = ? WHERE sig_id = ?`, "refused ("+short(r.reason)+")", s.sigID); err != nil {
			return fmt.Errorf("record outcome: %w", err)
		}
	}
	if r.to == nil {
		return nil
	}
	if s.sigID == "" {
		ok, err := s.mayAnswerUnauthenticated(ctx, *r.to)
		if err != nil || !ok {
			return err
		}
	}
	return s.answerRefused(ctx, caseID, r.reason, *r.to)
}

// answerRefused tells member, encrypted, that the mail changed nothing
// and why.
func (s *session) answerRefused(ctx context.Context, caseID int64, reason string, member distlist.Member) error {
	d := s.w.data(s.c, s.team)
	if s.c == nil && caseID != GatewayLog {
		if c, err := s.w.loadCase(ctx, s.tx, "id = ?", caseID); err == nil {
			d = s.w.data(c, s.team)
		}
	}
	d.Actor, d.Recipient = person(member), person(member)
	d.Answer.Refused = reason
	for _, c := range s.cmds {
		d.Answer.Commands = append(d.Answer.Commands, c.Raw)
	}
	subj, body, err := s.w.render("answer-refused", d)
	if err != nil {
		return err
	}
	_, err = s.w.enqueue(ctx, s.tx, outMail{kind: MailAnswer, caseID: caseID, notice: s.notice("answer", "refused"),
		subject: subj, body: body, encrypt: true, to: []distlist.Recipient{recipient(member)},
		inReplyTo: s.mail.MessageID, references: s.references(), auto: true})
	return err
}

// changes are what the mail changed, one line each: its commands' and
// those of the timeline's steps it carried out. The answer and the team's
// summary list and count the same lines.
func (s *session) changes() []string {
	return append(append([]string(nil), s.done...), s.steps...)
}

// answerDone answers an applied mail, plus /help and /log when asked. The
// answer's subject counts the changes it lists; its notes (s.extra) are
// listed apart and not counted.
func (s *session) answerDone(ctx context.Context) error {
	changes := s.changes()
	if s.sigID != "" {
		if _, err := s.tx.ExecContext(ctx, `UPDATE case_signatures SET outcome = ? WHERE sig_id = ?`,
			"applied ("+templates.Count(len(changes), "change")+")", s.sigID); err != nil {
			return fmt.Errorf("record outcome: %w", err)
		}
	}
	caseID := GatewayLog
	if s.c != nil {
		caseID = s.c.ID
	}
	d := s.w.data(s.c, s.team)
	d.Actor, d.Recipient = person(s.member), person(s.member)
	for _, c := range s.cmds {
		d.Answer.Commands = append(d.Answer.Commands, c.Raw)
	}
	d.Answer.Done = changes
	d.Answer.Notes = append([]string(nil), s.extra...)
	to := []distlist.Recipient{recipient(s.member)}
	send := func(tmpl, tag string, d templates.Data) error {
		subj, body, err := s.w.render(tmpl, d)
		if err != nil {
			return err
		}
		_, err = s.w.enqueue(ctx, s.tx, outMail{kind: MailAnswer, caseID: caseID, notice: s.notice("answer", tag),
			subject: subj, body: body, encrypt: true, to: to, inReplyTo: s.mail.MessageID, references: s.references(), auto: true})
		return err
	}
	if len(d.Answer.Done) > 0 || len(d.Answer.Notes) > 0 || (!s.help && !s.log && len(s.drafts) == 0) {
		if err := send("answer-done", "done", d); err != nil {
			return err
		}
	}
	if s.help {
		hd := d
		for _, n := range helpOrder {
			hd.Answer.Help = append(hd.Answer.Help, helpLine(n, s.w.refs))
		}
		if err := send("answer-help", "help", hd); err != nil {
			return err
		}
	}
	if s.log && s.c != nil {
		ld := d
		evs, err := auditLog(ctx, s.tx, s.c.ID)
		if err != nil {
			return err
		}
		for _, e := range evs {
			ld.Answer.Log = append(ld.Answer.Log, logLine(e))
		}
		if _, err := verifyChain(evs); err != nil {
			ld.Answer.Log = append(ld.Answer.Log, logLine(AuditEvent{At: s.now, Actor: ActorGateway, Action: "verify", Detail: err.Error()}))
		}
		if err := send("answer-log", "log", ld); err != nil {
			return err
		}
	}
	if err := s.tellTeam(ctx); err != nil {
		return err
	}
	for _, name := range s.drafts {
		opts := DraftOptions{Actor: person(s.member)}
		if name == templates.Retrospective {
			r, err := retrospective(ctx, s.tx, s.c, s.team)
			if err != nil {
				return err
			}
			opts.Retrospective = r
		}
		subj, body, err := s.w.scheduler().Draft(ctx, s.tx, s.c, draftTemplate(name), opts)
		if err != nil {
			return err
		}
		dd := d
		dd.Answer.Draft = templates.DraftData{Name: name, Subject: subj, Body: body}
		if err := send(templates.AnswerDraft, "draft-"+name, dd); err != nil {
			return err
		}
	}
	return nil
}

// notice returns the notice ID of one mail this session sends: unique per
// case, command mail, actor, time and purpose.
func (s *session) notice(kind, tag string) string {
	var id int64
	if s.c != nil {
		id = s.c.ID
	}
	return noticeID(kind, fmt.Sprint(id), s.mail.MessageID, s.actor, fmt.Sprint(s.now.UnixMilli()), tag)
}

func (s *session) references() []string {
	refs := append([]string(nil), s.mail.References...)
	if s.mail.MessageID != "" {
		refs = append(refs, s.mail.MessageID)
	}
	return refs
}

// caseRef finds the case a mail names: a /case line, then the [PREFIX-...]
// tag (the workflow's Refs) of the protected (signed) subject, then of the
// outer subject, then the thread (In-Reply-To, References) through the
// outbox's Message-IDs. It returns the reference or, for a thread match, ""
// and how="thread:<id>".
func (s *session) caseRef(ctx context.Context, named string) (ref, how string) {
	if named != "" {
		return named, "command"
	}
	// RFC 9788: when the signed part carries a Subject, the unprotected
	// outer one is ignored.
	if ps, ok := protectedSubject(s.mail.Opened); ok {
		if ref := s.w.refs.Tag(ps); ref != "" {
			return ref, "protected subject"
		}
	} else if ref := s.w.refs.Tag(s.mail.Subject); ref != "" {
		return ref, "subject"
	}
	if id, ok := s.threadCase(ctx); ok {
		return "", fmt.Sprintf("thread:%d", id)
	}
	return "", ""
}

func (s *session) threadCase(ctx context.Context) (int64, bool) {
	if s.mail.CaseID > 0 {
		return s.mail.CaseID, true
	}
	ids := append([]string{s.mail.InReplyTo}, reverse(s.mail.References)...)
	for _, id := range ids {
		if id == "" {
			continue
		}
		cid, ok, err := s.w.outbox.CaseForMessageID(ctx, id)
		if err != nil {
			s.w.log.WarnContext(ctx, "thread lookup failed", "err", err)
			continue
		}
		if ok && cid != GatewayLog {
			return cid, true
		}
	}
	return 0, false
}

func reverse(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[len(ss)-1-i] = s
	}
	return out
}

func (s *session) loadRef(ctx context.Context, ref, how string) (*Case, error) {
	if id, ok := strings.CutPrefix(how, "thread:"); ok {
		var n int64
		fmt.Sscan(id, &n)
		return s.w.loadCase(ctx, s.tx, "id = ?", n)
	}
	return s.w.loadCase(ctx, s.tx, "ref = ?", ref)
}

// guessCase finds the case a refused mail was about, for the audit log only.
func (s *session) guessCase(ctx context.Context) int64 {
	if c := s.caseOrNil(ctx, ""); c != nil {
		return c.ID
	}
	return GatewayLog
}

func (s *session) caseOrNil(ctx context.Context, named string) *Case {
	ref, how := s.caseRef(ctx, named)
	if ref == "" && how == "" {
		return nil
	}
	c, err := s.loadRef(ctx, ref, how)
	if err != nil {
		return nil
	}
	return c
}

// protectedHeader returns the header fields inside the signed content
// entity (RFC 9788 / protected-headers v1), nil if the mail is not validly
// signed as a whole.
func protectedHeader(o *crypto.Opened) mail.Header {
	if o == nil || o.Signature == nil || o.Signature.Err != nil || !o.Signature.Whole || len(o.Entity) == 0 {
		return nil
	}
	msg, err := mail.ReadMessage(bytes.NewReader(o.Entity))
	if err != nil {
		return nil
	}
	return msg.Header
}

// protectedSubject returns the Subject inside the signed content entity and
// whether there is one.
func protectedSubject(o *crypto.Opened) (string, bool) {
	h := protectedHeader(o)
	if _, ok := h["Subject"]; !ok {
		return "", false
	}
	subj := h.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subj); err == nil {
		subj = dec
	}
	return subj, true
}

// checkProtected compares the signed header fields, where the client signed
// them (Thunderbird does; Mutt signs only the Subject), with the outer
// ones: the signed From must be the outer From, a signed To/Cc must name
// the team address (else the mail was signed for someone else and
// forwarded), and a signed Date must be fresh.
func (s *session) checkProtected(fromAddr string) string {
	h := protectedHeader(s.mail.Opened)
	if h == nil {
		return ""
	}
	dec := new(mime.WordDecoder)
	if f, ok := h["From"]; ok {
		v, err := dec.DecodeHeader(strings.Join(f, ", "))
		if err != nil || singleAddress(v) != fromAddr {
			return fmt.Sprintf("the signed From %q is not the outer From %q.", short(strings.Join(f, ", ")), short(s.mail.From))
		}
	}
	_, hasTo := h["To"]
	_, hasCc := h["Cc"]
	if hasTo || hasCc {
		ok := false
		for _, field := range []string{"To", "Cc"} {
			l, err := h.AddressList(field)
			if err != nil {
				continue
			}
			for _, a := range l {
				if s.w.isTeamAddress(a.Address) {
					ok = true
				}
			}
		}
		if !ok {
			return "the signed To/Cc does not name the team address: the mail was signed for someone else (forwarded?)."
		}
	}
	if _, ok := h["Date"]; ok {
		d, err := h.Date()
		if err != nil || s.now.Sub(d) > s.w.cfg.SignatureMaxAge || d.Sub(s.now) > s.w.cfg.SignatureMaxSkew {
			return fmt.Sprintf("the signed Date %q is not fresh.", short(h.Get("Date")))
		}
	}
	return ""
}

// singleAddress returns the one address of a From header, "" when there is
// not exactly one.
func singleAddress(from string) string {
	l, err := mail.ParseAddressList(from)
	if err != nil || len(l) != 1 {
		return ""
	}
	return strings.ToLower(l[0].Address)
}

// addressOf reports whether addr belongs to m: the directory address or an
// address of m's key.
func addressOf(m distlist.Member, addr string) bool {
	if addr == "" {
		return false
	}
	if strings.EqualFold(m.Address, addr) {
		return true
	}
	if m.Key != nil {
		for _, e := range m.Key.Emails() {
			if strings.EqualFold(e, addr) {
				return true
			}
		}
	}
	return false
}

// displayRaw is the command line as quoted in answers and the audit log:
// block commands are named only, their text is case content.
func displayRaw(c *Command) string {
	if vocabulary[c.Name].block {
		return "/" + c.Name
	}
	return c.Raw
}

func weakHash(h string) bool {
	switch strings.ToUpper(strings.ReplaceAll(h, "-", "")) {
	case "MD5", "SHA1", "RIPEMD160":
		return true
	}
	return false
}

func openErrText(err error) string {
	switch {
	case errors.Is(err, crypto.ErrRevoked):
		return "the key is revoked"
	case errors.Is(err, crypto.ErrExpired):
		return "the key or signature has expired (" + short(err.Error()) + ")"
	case errors.Is(err, crypto.ErrBadSignature):
		return "bad signature (" + short(err.Error()) + ")"
	case errors.Is(err, crypto.ErrUnknownSigner):
		return "the signing key is unknown"
	case errors.Is(err, crypto.ErrDecrypt), errors.Is(err, crypto.ErrWrongKey):
		return "the mail could not be decrypted"
	case errors.Is(err, crypto.ErrNotMIME), errors.Is(err, crypto.ErrTooComplex):
		return "the MIME structure was not accepted"
	}
	return "verification failed"
}

func problemsText(pe *ParseError) string {
	var b strings.Builder
	for _, p := range pe.Problems {
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d ", p.Line)
		}
		if p.Raw != "" {
			fmt.Fprintf(&b, "%q: ", short(p.Raw))
		}
		b.WriteString(p.Msg)
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
