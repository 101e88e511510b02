package intake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// newReport opens a case, acknowledges the reporter and sends the team
// their copies, all in one transaction.
func (m *msgCtx) newReport(ctx context.Context) error {
	op := m.opened
	// From here a report needs only its text and attachments: let the
	// raw message and the decrypted entity go, so that a big report is
	// held once rather than three times while its case and mail are made.
	m.raw, op.Entity, op.Native = nil, nil, nil
	if !strings.Contains(m.insp.From, "@") {
		return m.finish(ctx, held(ClassMalformed, "no usable From address"), nil)
	}
	if strings.TrimSpace(op.Text) == "" && len(op.Attachments) == 0 {
		return m.hold(ctx, ClassEmpty, "empty message: no text and no attachment", TemplateQuarantined)
	}
	if n, err := m.casesOpenedToday(ctx); err != nil {
		return err
	} else if n >= m.p.o.Config.NewCasesPerDay && !m.released {
		return m.brake(ctx, n)
	}
	subject := m.reportSubject()
	key := m.reporterKey()
	archived, at, err := m.archivedTag(ctx)
	if err != nil {
		return err
	}
	m.archived, m.archivedAt = archived, at
	reason := "new report"
	if op.Encrypted {
		reason += ", encrypted"
	} else {
		reason += ", in clear"
	}
	if m.insp.MessageID == "" {
		reason += ", no Message-ID"
	}
	if m.insp.BadCharset {
		reason += ", unknown charset"
	}
	if op.SignatureErr != nil {
		reason += ", signature not verified: " + op.SignatureErr.Error()
	}
	if key != "" {
		reason += ", reporter key captured"
	}
	if archived != "" {
		reason += ", names archived case " + archived
	}
	return m.finish(ctx, done(ClassReport, reason), func(tx *sql.Tx, o *outcome) error {
		c, err := m.p.o.Cases.OpenCase(ctx, tx, Report{
			MessageID: m.insp.MessageID, From: m.insp.From, Key: key, Subject: subject, Text: op.Text,
			Attachments: op.Attachments, Encrypted: op.Encrypted, Received: m.in.Received, Sealed: m.sealed,
			Team: m.team, Archived: archived,
		})
		if err != nil {
			return fmt.Errorf("intake: open case for %d: %w", m.in.ID, err)
		}
		o.caseID = c.ID
		if c.ReporterKey != "" {
			key = c.ReporterKey // the workflow keeps only a usable key
		} else {
			key = ""
		}
		if err := m.acknowledge(ctx, tx, c, key); err != nil {
			return err
		}
		return m.teamCopy(ctx, tx, c, subject, copyReport)
	})
}

// casesTodayQuery counts a sender's reports since a time. It searches
// the sender's messages (index inbound_sender): "+class" keeps SQLite
// from the index on (class, received), which would read every report of
// the last 24 hours, from every sender, for each new one.
const casesTodayQuery = `SELECT count(*) FROM inbound WHERE sender = ? AND received >= ? AND +class = ? AND id != ?`

// casesOpenedToday counts the cases the sender opened within 24 hours.
func (m *msgCtx) casesOpenedToday(ctx context.Context) (int, error) {
	if m.todayRead {
		return m.today, nil
	}
	var n int
	err := m.reader().QueryRowContext(ctx, casesTodayQuery,
		m.insp.From, store.Millis(m.now.Add(-24*time.Hour)), ClassReport, m.in.ID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("intake: count new cases of %s: %w", m.insp.From, err)
	}
	return n, nil
}

// brake holds a new report from a sender who opened n cases today, without
// an answer (an auto-responder answering every acknowledgement is a loop),
// and tells the team once a day per sender.
func (m *msgCtx) brake(ctx context.Context, n int) error {
	why := fmt.Sprintf("%s opened %d cases within 24 hours (new_cases_per_day): held for the team, not acknowledged; release it to open a case", m.insp.From, n)
	return m.finish(ctx, held(ClassLimit, why), func(tx *sql.Tx, _ *outcome) error {
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT at FROM inbound_answer WHERE sender = ? AND kind = 'new-case-brake'`, m.insp.From).Scan(&at)
		if err == nil && m.now.Sub(store.Time(at)) < 24*time.Hour {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("intake: brake lookup: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, 'new-case-brake', ?)
			ON CONFLICT (sender, kind) DO UPDATE SET at = excluded.at`, m.insp.From, store.Millis(m.now)); err != nil {
			return fmt.Errorf("intake: record brake alert: %w", err)
		}
		text := fmt.Sprintf("%s opened %d cases within 24 hours. Further new reports from this address are held in\n"+
			"quarantine without an acknowledgement (an auto-responder answering our acknowledgements would\n"+
			"open a case for every answer). `secgate quarantine list` shows them; release the real ones.\n", m.insp.From, n)
		return m.p.o.Cases.Alert(ctx, tx, 0, "New reports from one address held", text)
	})
}

// reportSubject is the subject a report is stored with: the protected
// one when the report had it, the outer one otherwise.
func (m *msgCtx) reportSubject() string {
	if m.opened.Subject != "" {
		return m.opened.Subject
	}
	return m.insp.Subject
}

// acknowledge tells the reporter the case ID. It never quotes the report: a
// re-sent ciphertext must not come back as plaintext.
func (m *msgCtx) acknowledge(ctx context.Context, tx *sql.Tx, c CaseInfo, key string) error {
	if !m.answerable() {
		return nil
	}
	data := m.baseData()
	data.Case = caseData(c, m.team)
	data.Message.Encrypted = m.opened.Encrypted
	text, err := m.p.o.Texts.Render(TemplateAck, data)
	if err != nil {
		return fmt.Errorf("intake: render ack: %w", err)
	}
	mail := OutMail{
		Kind: "ack", CaseID: c.ID, NoticeID: "ack-" + c.Ref,
		Subject: text.Subject, Body: text.Body, Auto: true,
		Recipients: []Recipient{{Name: data.Recipient.Name, Address: m.insp.From, Key: key}},
		InReplyTo:  m.insp.MessageID,
		ReplyTo:    m.p.o.Project.TeamAddress,
		Encrypt:    key != "",
	}
	if !m.opened.Encrypted && m.p.o.TeamKey != "" {
		mail.Attachments = []Attachment{teamKeyAttachment(m.p.o.TeamKey)}
	}
	skipped, err := m.enqueue(ctx, tx, mail)
	if err != nil {
		return fmt.Errorf("intake: enqueue ack: %w", err)
	}
	if len(skipped) > 0 && mail.Encrypt {
		// Their key is not usable: the ack holds nothing secret, so it
		// goes signed in clear rather than not at all.
		mail.Encrypt = false
		mail.Recipients[0].Key = ""
		mail.NoticeID += "-clear"
		if _, err := m.enqueue(ctx, tx, mail); err != nil {
			return fmt.Errorf("intake: enqueue ack: %w", err)
		}
	}
	return nil
}

// teamCopy sends the message to each team member, encrypted to that member
// alone, with a reply path into the case.
func (m *msgCtx) teamCopy(ctx context.Context, tx *sql.Tx, c CaseInfo, subject string, kind copyKind) error {
	team := m.team
	if len(team) == 0 {
		m.p.o.Log.Warn("intake: no team members to copy", "case", c.Ref)
		return nil
	}
	op := m.opened
	text, err := m.p.o.Texts.Render(TemplateTeamCopy, m.teamCopyData(c, subject, kind))
	if err != nil {
		return fmt.Errorf("intake: render team copy: %w", err)
	}
	// No line of what the team is shown as the sender's ever runs as a
	// command in this case, however a member's client quotes it.
	if err := m.p.o.Cases.RecordUntrusted(ctx, tx, c.ID, op.Text, op.Outside, subject); err != nil {
		return fmt.Errorf("intake: record untrusted text of %d: %w", m.in.ID, err)
	}
	mail := OutMail{
		Kind: "team-copy", CaseID: c.ID, NoticeID: fmt.Sprintf("team-copy-%s-%d", c.Ref, m.in.ID),
		Subject: text.Subject, Body: text.Body, Encrypt: true, Auto: true,
		Attachments: op.Attachments,
		ReplyTo:     m.p.o.Project.TeamAddress,
	}
	if m.insp.MessageID != "" {
		mail.References = []string{m.insp.MessageID}
	}
	for _, t := range team {
		mail.Recipients = append(mail.Recipients, Recipient{Name: t.Name, Address: t.Address, Fingerprint: t.Fingerprint, Member: t.Key})
	}
	skipped, err := m.enqueue(ctx, tx, mail)
	if err != nil {
		return fmt.Errorf("intake: enqueue team copy: %w", err)
	}
	if len(skipped) == 0 {
		return nil
	}
	// Fail closed, and say so: a member without a usable key got nothing.
	m.p.o.Log.Warn("intake: team copy not sent to some members", "case", c.Ref, "inbound", m.in.ID, "skipped", len(skipped))
	alert := fmt.Sprintf("The copy of a message for %s (from %s, inbound %d) was NOT sent to:\n  %s\n\n"+
		"A member whose key is missing, expired or revoked gets nothing. Renew the key in the\n"+
		"configuration; `secgate case show %s` shows the message.\n",
		c.Ref, m.insp.From, m.in.ID, strings.Join(skipped, "\n  "), c.Ref)
	if err := m.p.o.Cases.Alert(ctx, tx, c.ID, fmt.Sprintf("team copy not sent to %d %s", len(skipped), templates.Plural(len(skipped), "member")), alert); err != nil {
		return fmt.Errorf("intake: alert about the team copy: %w", err)
	}
	return nil
}

// teamCopyData is what the team copy of the message shows. Every line about
// the signature comes from the one verified signer (m.opened.Signer, after
// verifyAgain): "Signature:" says verified and with whose key, and the
// distributor line says "their own key" only when that signer is the key we
// hold for them.
func (m *msgCtx) teamCopyData(c CaseInfo, subject string, kind copyKind) templates.Data {
	op := m.opened
	data := templates.Data{Project: m.p.o.Project, Now: m.now}
	data.Case = caseData(c, m.team)
	data.Message = templates.MessageData{
		From: m.insp.From, Subject: templates.HeaderSafe(subject), Date: m.in.Received, MessageID: m.insp.MessageID,
		Text: op.Text, Encrypted: op.Encrypted, Signed: op.Signer != "", SignedBy: op.Signer,
		SignedWith: m.signedWith(c, kind), SignatureNote: signatureNote(op),
		FollowUp: kind != copyReport, Distributor: kind == copyDistributor,
		TheirKey:        kind == copyDistributor && m.signedByDistributor(),
		SignerNotSender: op.Signer != "" && !m.signerIsSender(),
		OtherSender:     kind == copyFollowUp && c.ReporterAddr != "" && !strings.EqualFold(c.ReporterAddr, m.insp.From),
		Outside:         op.Outside,
		Token:           templates.NewUntrustedToken(),
		Commands:        m.commands,
		CommandsTold:    m.commandsTold,
		Archived:        m.archived,
		ArchivedAt:      m.archivedAt,
	}
	for _, a := range op.Attachments {
		data.Message.Attachments = append(data.Message.Attachments, templates.HeaderSafe(a.Filename))
	}
	data.Ack.Verdict = m.ackVerdict
	return data
}

// signedWith says whose key made the message's verified signature, for the
// team copy: the key we hold for the distributor who sent it, the key on
// file of the case's reporter (not for the report that brought it), or a
// key that came with the message; "" when none verified.
func (m *msgCtx) signedWith(c CaseInfo, kind copyKind) string {
	op := m.opened
	switch {
	case op.Signer == "":
		return ""
	case m.signedByDistributor():
		return "the key we hold for this distributor"
	case kind != copyReport && c.ReporterKey != "" && keyIs(c.ReporterKey, op.Signer):
		return "the reporter's key on file"
	case op.SignerKey != "":
		return "a key that came with the message"
	}
	return ""
}

// signedByDistributor reports whether the message is a distributor's reply
// whose signature the key we hold for them made.
func (m *msgCtx) signedByDistributor() bool {
	return m.dist != nil && m.dist.Fingerprint != "" && strings.EqualFold(m.opened.Signer, m.dist.Fingerprint)
}

// keyIs reports whether the armored key has the fingerprint fpr.
func keyIs(armored, fpr string) bool {
	k, err := crypto.ParsePublicKey([]byte(armored))
	return err == nil && strings.EqualFold(k.Fingerprint(), fpr)
}

// copyKind is what a team copy relays.
type copyKind int

const (
	copyReport      copyKind = iota // a new report
	copyFollowUp                    // a follow-up of the reporter (or anyone else on the thread)
	copyDistributor                 // a distributor's reply to a notice
)

// followUp appends the message to its case and copies it to the team.
func (m *msgCtx) followUp(ctx context.Context, caseID int64, how string) error {
	return m.addToCase(ctx, caseID, done(ClassFollowUp, "reply to case by "+how), "followup", copyFollowUp)
}

// distributorReply records a distributor's reply to a notice in its case
// and copies it to the team, saying whether their own key signed it: the
// notice tells them a reply reaches the security team, and a reply may
// say the embargo is broken.
func (m *msgCtx) distributorReply(ctx context.Context, caseID int64, dist Member) error {
	m.dist = &dist
	if dist.Key != nil {
		m.verifyAgain(ctx, nil, []Member{dist})
	}
	why, signer := "reply from distributor "+m.insp.From, m.opened.Signer
	switch {
	case m.signedByDistributor():
		why += ", signed by their key " + signer
	case signer != "":
		why += ", signed by another key " + signer
	default:
		why += ", not signed by their key"
	}
	return m.addToCase(ctx, caseID, done(ClassDistributorAck, why+"; copied to the team"), "distributor", copyDistributor)
}

// addToCase appends the message to case caseID as a message of the given
// kind, copies it to the team, and ends it with o.
func (m *msgCtx) addToCase(ctx context.Context, caseID int64, o outcome, kind string, copied copyKind) error {
	op := m.opened
	subject := op.Subject
	if subject == "" {
		subject = m.insp.Subject
	}
	o.caseID = caseID
	return m.finish(ctx, o, func(tx *sql.Tx, o *outcome) error {
		c, err := m.p.o.Cases.CaseByID(ctx, tx, caseID)
		if err != nil {
			return fmt.Errorf("intake: case %d: %w", caseID, err)
		}
		f := FollowUp{
			Kind: kind, Author: m.insp.From, MessageID: m.insp.MessageID, Subject: subject,
			Text: op.Text, Attachments: op.Attachments, Encrypted: op.Encrypted, Received: m.in.Received,
		}
		if copied == copyFollowUp {
			if c.ReporterKey != "" {
				m.verifyAgain(ctx, []string{c.ReporterKey}, nil)
			}
			f.Key = m.reporterKey()
		}
		if op.SignedWhole {
			f.Signer = op.Signer
		}
		// The sender is not a team member (a member's key or address makes
		// a command mail): lines that read as commands do not run, and
		// the audit log, the team and maybe the sender hear of it.
		if lines := cases.CommandLines(op.Text); len(lines) > 0 {
			told, err := m.answerCommandLines(ctx, tx, c)
			if err != nil {
				return err
			}
			f.Told, m.commands, m.commandsTold = told, cases.CommandNames(lines), told
			o.reason += fmt.Sprintf("; %s that read as commands not applied (not a team member), %s",
				templates.Count(len(lines), "line"), told)
		}
		if err := m.p.o.Cases.AddMessage(ctx, tx, caseID, f); err != nil {
			return fmt.Errorf("intake: add %s to %s: %w", kind, c.Ref, err)
		}
		if copied == copyDistributor {
			if err := m.distributorAck(ctx, tx, caseID, o); err != nil {
				return err
			}
		}
		return m.teamCopy(ctx, tx, c, subject, copied)
	})
}

// verifyAgain verifies a signature whose signer the first opening did not
// know with keys it did not hold: the key on file of the case's reporter
// (candidates), the key we hold for the distributor who replied (members).
// When one verifies, its signer is the message's signer everywhere after:
// in the team copy's lines, the case's message, the reporter's consent,
// and whom an answer may go to.
func (m *msgCtx) verifyAgain(ctx context.Context, candidates []string, members []Member) {
	op := m.opened
	if op.Signer != "" || op.SignatureErr == nil {
		return
	}
	raw, err := m.rawBytes(ctx)
	if err != nil {
		m.p.o.Log.Warn("intake: signature not verified again: message not read", "inbound", m.in.ID, "err", err)
		return
	}
	again, err := m.p.o.Opener.Open(ctx, raw, candidates, members, m.now)
	if err != nil || again.Signer == "" {
		return
	}
	op.Signer, op.SignerKey, op.SignerEmails, op.SignatureErr = again.Signer, again.SignerKey, again.SignerEmails, nil
	op.SignedWhole, op.SignatureID = again.SignedWhole, again.SignatureID
}

// signatureNote says what became of a signature that did not verify, ""
// when there was none.
func signatureNote(op *Opened) string {
	if op.Signer != "" || op.SignatureErr == nil {
		return ""
	}
	if errors.Is(op.SignatureErr, crypto.ErrUnknownSigner) {
		return "signed by a key that is neither the sender's on file nor a member's: not verified"
	}
	return "present but does NOT verify: " + Printable(op.SignatureErr.Error())
}

func caseData(c CaseInfo, team []Member) templates.CaseData {
	d := templates.CaseData{
		Ref: c.Ref, State: c.State, Policy: c.Policy, EvaluateBy: c.EvaluateBy,
		Lead:     templates.Person{Name: c.LeadName, Fingerprint: c.Lead},
		Reporter: templates.Person{Address: c.ReporterAddr},
	}
	for _, t := range team {
		if c.Lead != "" && strings.EqualFold(t.Fingerprint, c.Lead) {
			d.Lead.Name, d.Lead.Address = t.Name, t.Address
		}
	}
	return d
}
