package intake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// TemplateNotMember is the answer to someone outside the team whose mail
// on a case had lines that read as commands.
const TemplateNotMember = templates.NotMember

// commandAnswerGap is how often a sender outside the team is told, at
// most, that their command lines were not applied: once an hour, as a
// member is told of mail that does not carry their valid signature.
const commandAnswerGap = time.Hour

// answerCommandLines tells the sender of a message on case c whose text has
// lines that read as commands that commands are taken only from team
// members, and that none of them was applied. It writes only where a key
// the gateway held before this message vouches for the sender, never to an
// address anyone may put in a From, nor on the word of a key that came
// with the message (attached, Autocrypt, in the text: anyone can make a
// key naming any address): to the case's reporter, at the reporter's
// address, when the mail was signed by their key on file or came
// encrypted to the team key; to a distributor when the key the directory
// holds for them signed it. Anyone else is not answered: the refusal is
// only audited and shown to the team. To each at most once an hour. The
// answer echoes nothing the sender chose (no Subject, no display name):
// its subject is "[REF] Commands not applied", REF the case's reference.
// It is encrypted to the reporter's key on file or the distributor's key
// we hold, in clear when the reporter has none on file. It returns what
// the sender was told, for the audit log and the team copy.
func (m *msgCtx) answerCommandLines(ctx context.Context, tx *sql.Tx, c CaseInfo) (string, error) {
	op := m.opened
	reporter := c.ReporterAddr != "" && strings.EqualFold(c.ReporterAddr, m.insp.From) &&
		(op.Encrypted || (op.Signer != "" && c.ReporterKey != "" && keyIs(c.ReporterKey, op.Signer)))
	distributor := m.signedByDistributor() && m.dist.Key != nil && strings.EqualFold(m.dist.Address, m.insp.From)
	switch {
	case !reporter && !distributor:
		return "nobody was told: the sender is neither the case's reporter (signed by their key on file, or encrypted to the team key) nor a distributor signing with the key we hold for them", nil
	case !m.answerable():
		return "nobody was told: the sender is not answered automatically", nil
	}
	if ok, err := m.mayAnswer(ctx, tx, TemplateNotMember, commandAnswerGap); err != nil || !ok {
		return "the sender was told within the hour already, not again", err
	}
	// Nothing the sender wrote: no Subject, no display name.
	data := templates.Data{Project: m.p.o.Project, Now: m.now,
		Case: templates.CaseData{Ref: c.Ref}, Recipient: templates.Person{Address: m.insp.From}}
	text, err := m.p.render(TemplateNotMember, data)
	if err != nil {
		return "", fmt.Errorf("intake: render %s: %w", TemplateNotMember, err)
	}
	rcpt := Recipient{Address: m.insp.From}
	switch {
	case distributor:
		rcpt.Member = m.dist.Key
	case c.ReporterKey != "":
		rcpt.Key = c.ReporterKey
	}
	mail := OutMail{
		Kind: KindSenderNotice, CaseID: c.ID, NoticeID: fmt.Sprintf("intake-%s-%d", TemplateNotMember, m.in.ID),
		Subject: text.Subject, Body: text.Body, Auto: true,
		Recipients: []Recipient{rcpt},
		InReplyTo:  m.insp.MessageID,
		ReplyTo:    m.p.o.Project.TeamAddress,
		Encrypt:    rcpt.Key != "" || rcpt.Member != nil,
	}
	skipped, err := m.enqueue(ctx, tx, mail)
	if err != nil {
		return "", fmt.Errorf("intake: enqueue %s answer: %w", TemplateNotMember, err)
	}
	if !mail.Encrypt {
		return "the sender was told, in clear (no key of theirs is known)", nil
	}
	if len(skipped) == 0 {
		return "the sender was told, encrypted to their key", nil
	}
	// Their key is not usable: the answer holds nothing secret.
	mail.Encrypt, mail.Recipients[0].Key, mail.Recipients[0].Member = false, "", nil
	mail.NoticeID += "-clear"
	if _, err := m.enqueue(ctx, tx, mail); err != nil {
		return "", fmt.Errorf("intake: enqueue %s answer: %w", TemplateNotMember, err)
	}
	return "the sender was told, in clear (their key is not usable)", nil
}

// mayAnswer reports whether the sender may get an answer of this kind now,
// none having gone to them within the period, and if so records it.
func (m *msgCtx) mayAnswer(ctx context.Context, tx *sql.Tx, kind string, period time.Duration) (bool, error) {
	var at int64
	err := tx.QueryRowContext(ctx, `SELECT at FROM inbound_answer WHERE sender = ? AND kind = ?`, m.insp.From, kind).Scan(&at)
	if err == nil && m.now.Sub(store.Time(at)) < period {
		return false, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("intake: answer lookup: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, ?, ?)
		ON CONFLICT (sender, kind) DO UPDATE SET at = excluded.at`, m.insp.From, kind, store.Millis(m.now)); err != nil {
		return false, fmt.Errorf("intake: record answer: %w", err)
	}
	return true, nil
}
