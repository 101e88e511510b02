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
// members, and that none of them was applied. It writes only to the case's
// reporter, or to a sender whose signature on this mail verified with a
// key carrying the From address, never to an address anyone may put in a
// From; and to each at most once an hour. The answer quotes nothing and
// names nothing of the case; it is encrypted when a key of theirs is known
// (the reporter's on file, the one we hold for a distributor, the signer's)
// and in clear otherwise. It returns what the sender was told, for the
// audit log and the team copy.
func (m *msgCtx) answerCommandLines(ctx context.Context, tx *sql.Tx, c CaseInfo) (string, error) {
	op := m.opened
	reporter := c.ReporterAddr != "" && strings.EqualFold(c.ReporterAddr, m.insp.From)
	signer := op.Signer != "" && m.signerIsSender()
	switch {
	case !reporter && !signer:
		return "nobody was told: the sender is neither the case's reporter nor verified by a key carrying the From address", nil
	case !m.answerable():
		return "nobody was told: the sender is not answered automatically", nil
	}
	if ok, err := m.mayAnswer(ctx, tx, TemplateNotMember, commandAnswerGap); err != nil || !ok {
		return "the sender was told within the hour already, not again", err
	}
	data := m.baseData()
	text, err := m.p.render(TemplateNotMember, data)
	if err != nil {
		return "", fmt.Errorf("intake: render %s: %w", TemplateNotMember, err)
	}
	rcpt := Recipient{Name: data.Recipient.Name, Address: m.insp.From}
	switch {
	case reporter && c.ReporterKey != "":
		rcpt.Key = c.ReporterKey
	case signer && m.signedByDistributor() && m.dist.Key != nil:
		rcpt.Member = m.dist.Key
	case signer && op.SignerKey != "":
		rcpt.Key = op.SignerKey
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
