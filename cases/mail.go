package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// Mail kinds the workflow enqueues.
const (
	MailAnswer   = "answer"    // answer to a command mail
	MailReporter = "reporter"  // text to the reporter (/reply, incomplete, decision)
	MailAlert    = "alert"     // alert to the fix lead or the team
	MailHandoff  = "handoff"   // fix lead hand-off offer and confirmation
	MailTeamNote = "team-note" // what a command mail or a step of the timeline changed, to the other members (team-summary)
)

// textEntity returns a text/plain MIME entity (header, blank line, body)
// with CRLF line ends, quoted-printable encoded.
func textEntity(body string) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// noticeID derives a stable notice ID from its parts.
func noticeID(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil))[:24]
}

// render renders a template, or the fallback text when the set is missing or
// does not have the template.
func (w *Workflow) render(name string, d templates.Data) (subject, body string, err error) {
	if w.tmpl != nil {
		t, err := w.tmpl.Render(name, d)
		if err == nil {
			return t.Subject, t.Body, nil
		}
		if !errors.Is(err, templates.ErrUnknown) {
			return "", "", fmt.Errorf("cases: template %s: %w", name, err)
		}
	}
	return renderFallback(name, d)
}

// data fills the template data common to every text of a case.
func (w *Workflow) data(c *Case, team []distlist.Member) templates.Data {
	d := templates.Data{Project: w.project, Now: w.clock.Now().UTC()}
	if c == nil {
		d.Case.Ref = "no case"
		return d
	}
	d.Case = c.TemplateData()
	d.Case.Embargoed = !c.DiscloseAt.IsZero() && c.State != StateFixReleased && c.State != StateClosed
	if m, ok := memberByFpr(team, c.Lead); ok {
		d.Case.Lead = person(m)
	}
	return d
}

func person(m distlist.Member) templates.Person {
	return templates.Person{Name: m.Name, Address: m.Address, Fingerprint: m.Fingerprint, TZ: m.TZ}
}

func recipient(m distlist.Member) distlist.Recipient {
	return distlist.Recipient{Name: m.Name, Address: m.Address, Key: m.Key}
}

// outMail is one mail the workflow enqueues.
type outMail struct {
	kind       string
	caseID     int64
	notice     string
	subject    string
	body       string
	encrypt    bool
	to         []distlist.Recipient
	inReplyTo  string
	references []string
	auto       bool
}

// enqueue hands one mail to the outbox inside tx. Recipients the outbox
// skips (no usable key) get nothing; they are returned. Every text the
// workflow sends passes here, rendered or not (an alert's text): its
// hidden characters are shown as <U+202E> (templates.Visible).
func (w *Workflow) enqueue(ctx context.Context, tx *sql.Tx, m outMail) ([]distlist.Skipped, error) {
	if len(m.to) == 0 {
		return nil, nil
	}
	sk, err := w.outbox.Enqueue(ctx, tx, distlist.Mail{
		Kind:     m.kind,
		CaseID:   m.caseID,
		NoticeID: m.notice,
		Content: crypto.Content{
			Subject: templates.HeaderSafe(m.subject),
			From:    w.teamAddr,
			Entity:  textEntity(templates.Visible(m.body)),
		},
		Encrypt:      m.encrypt,
		ValidThrough: w.clock.Now().Add(time.Hour),
		Recipients:   m.to,
		InReplyTo:    m.inReplyTo,
		References:   m.references,
		Auto:         m.auto,
	})
	if err != nil {
		return nil, fmt.Errorf("cases: enqueue %s: %w", m.kind, err)
	}
	return sk, nil
}

// Alert tells the case's fix lead (or the whole team when the case has no
// lead or the lead is gone) about something that needs a human, inside tx.
// subject goes to the audit log, in clear: it must name nothing embargoed
// (the text goes only into the encrypted mail).
// The mail is encrypted to each recipient; recipients without a usable key
// are skipped and named in the audit log.
func (w *Workflow) Alert(ctx context.Context, tx *sql.Tx, caseID int64, subject, text string) error {
	team, err := w.dir.Team(ctx)
	if err != nil {
		return fmt.Errorf("cases: alert: %w", err)
	}
	var (
		ref  = "secgate"
		to   []distlist.Recipient
		lead distlist.Member
	)
	if caseID != GatewayLog {
		c, err := w.loadCase(ctx, tx, "id = ?", caseID)
		if err != nil {
			return fmt.Errorf("cases: alert: %w", err)
		}
		ref = c.Ref
		if m, ok := memberByFpr(team, c.Lead); ok {
			lead = m
			to = append(to, recipient(m))
		}
	}
	// others are the members told when the lead cannot be: all of them
	// when the case has no lead.
	var others []distlist.Recipient
	for _, m := range team {
		if m.Fingerprint != lead.Fingerprint {
			others = append(others, recipient(m))
		}
	}
	if len(to) == 0 {
		to, others = others, nil
	}
	subj := subject
	if !strings.Contains(subj, "["+ref+"]") {
		subj = "[" + ref + "] " + subj
	}
	now := w.clock.Now()
	mail := outMail{kind: MailAlert, caseID: caseID, notice: noticeID("alert", fmt.Sprint(caseID), subject, text, now.String()),
		subject: subj, body: text, encrypt: true, to: to, auto: true}
	sk, err := w.enqueue(ctx, tx, mail)
	if err != nil {
		return err
	}
	if len(sk) == len(to) && len(others) > 0 {
		// The lead got nothing (their key is unusable): the rest of the
		// team is told instead.
		mail.to = others
		more, err := w.enqueue(ctx, tx, mail)
		if err != nil {
			return err
		}
		sk = append(sk, more...)
	}
	detail := "alert: " + short(subject)
	if len(sk) > 0 {
		detail += "; not sent to " + skippedList(sk)
	}
	return w.Audit(ctx, tx, caseID, ActorGateway, "alert", detail, "")
}

func skippedList(sk []distlist.Skipped) string {
	var s []string
	for _, x := range sk {
		s = append(s, fmt.Sprintf("%s (%s)", x.Recipient.Address, x.Reason))
	}
	return strings.Join(s, ", ")
}

func memberByFpr(team []distlist.Member, fpr string) (distlist.Member, bool) {
	if fpr == "" {
		return distlist.Member{}, false
	}
	for _, m := range team {
		if strings.EqualFold(m.Fingerprint, fpr) {
			return m, true
		}
	}
	return distlist.Member{}, false
}

func memberByAddr(team []distlist.Member, addr string) (distlist.Member, bool) {
	if addr == "" {
		return distlist.Member{}, false
	}
	for _, m := range team {
		if strings.EqualFold(m.Address, addr) {
			return m, true
		}
	}
	return distlist.Member{}, false
}

// reporterRecipient returns the reporter as a recipient and whether mail to
// them is encrypted (their key is known). A stored key that no longer parses
// is an error: never fall back to clear text.
func reporterRecipient(c *Case) (distlist.Recipient, bool, error) {
	r := distlist.Recipient{Address: c.ReporterAddr}
	if c.ReporterKey == "" {
		return r, false, nil
	}
	k, err := crypto.ParsePublicKey([]byte(c.ReporterKey))
	if err != nil {
		return r, false, fmt.Errorf("the reporter's key does not parse: %w", err)
	}
	r.Key = k
	return r, true, nil
}
