package cases

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// The reporter's consent (Kata: "Vulnerability reporters retain final
// control over the disclosure of their findings"). Where the policy asks
// for it (reporter_consent), a /disclose proposes the date to the reporter
// and nothing of the plan goes out before they agree. What counts as
// their agreement, strictly:
//
//   - a follow-up in the case from the reporter's address,
//   - while a plan waits for them,
//   - with a line "/agree CODE" at the start of a line (not quoted, not
//     indented: the proposal shows the line indented, so that the
//     proposal quoted in a reply never agrees), CODE being the code of
//     the latest proposal (a proposal for another date has another),
//   - signed by the reporter's key on file (the whole message), or
//     encrypted to the team key: the proposal went encrypted to the key
//     on file, so only its holder read the code, and the reply's code is
//     not exposed on the way back. Without a key on file no reply by mail
//     counts: the proposal went in clear, without a code, and anyone can
//     encrypt to the team's public key with the reporter's From; the lead
//     confirms with the reporter another way and forces.
//
// Anything else that reads like agreement ("I agree", an unsigned or
// clear /agree, another key) changes nothing, and the fix lead is told why.
// A lead goes ahead without the reporter with /disclose ... force: REASON
// while the plan waits (logged).

// PendingConsent is a disclosure plan that waits for the reporter.
type PendingConsent struct {
	T0       time.Time // the disclosure time proposed
	Asked    time.Time // when the plan was made
	CodeHash string    // ConsentCodeHash of the code of the proposal sent, "" before
}

// ConsentScheduler is a Scheduler whose policies may have the reporter
// agree to a disclosure before anything of it goes out.
type ConsentScheduler interface {
	// ConsentPending returns c's plan that waits for the reporter's
	// consent; ok is false when none does.
	ConsentPending(ctx context.Context, tx *sql.Tx, c *Case) (p PendingConsent, ok bool, err error)
	// AskConsent records the hash of the code the proposal to the
	// reporter carries, for c's waiting plan.
	AskConsent(ctx context.Context, tx *sql.Tx, c *Case, codeHash string) error
	// Consent releases c's waiting plan: how says who agreed and how
	// (logged). The text says what happens now, for the fix lead.
	Consent(ctx context.Context, tx *sql.Tx, c *Case, how, actor string) (string, error)
}

// consentAlphabet has no letters or digits that read alike (0 O, 1 I L).
const consentAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// newConsentCode returns a random code "XXXX-XXXX" (about 40 bits).
func newConsentCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	var s strings.Builder
	for i, x := range b {
		if i == 4 {
			s.WriteByte('-')
		}
		s.WriteByte(consentAlphabet[int(x)%len(consentAlphabet)])
	}
	return s.String()
}

// ConsentCodeHash is what is kept of a consent code: the hash of the code
// in upper case, without blanks and dashes.
func ConsentCodeHash(code string) string {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-':
			return -1
		}
		return r
	}, strings.ToUpper(code))
	h := sha256.Sum256([]byte("secgate consent code\x00" + norm))
	return hex.EncodeToString(h[:])
}

// agreement reads a reporter's text: the code of its "/agree CODE" line
// (agreed is true when there is one, at the start of a line and not
// quoted), and whether some line reads like agreement all the same
// ("I agree", an indented or quoted /agree).
func agreement(text string) (code string, agreed, looksLike bool) {
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		low := strings.ToLower(strings.TrimSpace(line))
		if rest, ok := strings.CutPrefix(strings.ToLower(line), "/agree"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			if !agreed {
				code, agreed = strings.TrimSpace(line[len("/agree"):]), true
			}
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(low, "> \t"), "/agree") || strings.Contains(low, "i agree") {
			looksLike = true
		}
	}
	return code, agreed, looksLike
}

// consentRefusal says why a follow-up m of the reporter does not count as
// their agreement to the plan p waits with ("" when it counts).
// reporterKey is the armored key on file, "" when none.
func consentRefusal(reporterKey string, m Message, code string, agreed bool, p PendingConsent) string {
	switch {
	case !agreed:
		return `it has no line "/agree CODE" at the start of a line`
	case reporterKey == "":
		return "the reporter has no key on file, so no reply by mail can be told from a forgery (anyone can encrypt to the team's public key " +
			"with their From): confirm with them another way, then /disclose again with \"force: REASON\""
	case code == "":
		return "its /agree line has no code"
	case p.CodeHash == "" || ConsentCodeHash(code) != p.CodeHash:
		return "its code is not the code of the current proposal (mistyped, or for an earlier date)"
	}
	k, err := crypto.ParsePublicKey([]byte(reporterKey))
	switch {
	case err != nil:
		return "the reporter's key on file does not parse: " + err.Error()
	case m.Signer == "" && m.Encrypted:
		return "" // the code, which only the key on file could read, came back encrypted
	case m.Signer == "":
		return fmt.Sprintf("it came in clear and is not signed by the reporter's key on file %s (a signature that does not verify, or covers only part of the mail, does not count)", k.Fingerprint())
	case !strings.EqualFold(m.Signer, k.Fingerprint()):
		return fmt.Sprintf("it is signed by another key %s, not by the reporter's key on file %s", m.Signer, k.Fingerprint())
	}
	return ""
}

// considerConsent looks at follow-up m of case c: when it is the
// reporter's agreement to the plan that waits for it, the plan goes ahead;
// when it only reads like one, the fix lead is told why it does not count.
func (w *Workflow) considerConsent(ctx context.Context, tx *sql.Tx, c *Case, m Message) error {
	if m.Kind != KindFollowUp || !distlist.SameAddress(m.Author, c.ReporterAddr) {
		return nil
	}
	code, agreed, looksLike := agreement(m.Text)
	if !agreed && !looksLike {
		return nil
	}
	cs, ok := w.scheduler().(ConsentScheduler)
	if !ok {
		return nil
	}
	p, waiting, err := cs.ConsentPending(ctx, tx, c)
	if err != nil || !waiting {
		return err
	}
	actor := "reporter:" + c.ReporterAddr
	date := p.T0.UTC().Format("2006-01-02 15:04 UTC")
	if why := consentRefusal(c.ReporterKey, m, code, agreed, p); why != "" {
		if err := w.Audit(ctx, tx, c.ID, actor, "consent-not-counted", why, m.MessageID); err != nil {
			return err
		}
		return w.Alert(ctx, tx, c.ID, "Reporter's consent NOT counted",
			fmt.Sprintf("A follow-up from the reporter's address to %s reads like agreement to the disclosure\n"+
				"planned for %s, but it does not count: %s.\n\n"+
				"What counts is a reply with the line \"/agree CODE\" of the proposal, at the start of a line,\n"+
				"signed by the reporter's key on file or encrypted to the team key.\n"+
				"Nothing of the plan goes out before then; to go ahead without the reporter,\n"+
				"/disclose again with \"force: REASON\" (logged).\n", c.Ref, date, why))
	}
	how := "the reporter agreed in a reply signed by their key on file " + m.Signer
	switch {
	case m.Signer == "":
		how = "the reporter agreed in a reply encrypted to the team key, with the code of the proposal encrypted to their key on file"
	}
	text, err := cs.Consent(ctx, tx, c, how, actor)
	if err != nil {
		return err
	}
	return w.Alert(ctx, tx, c.ID, "Reporter agreed to the disclosure",
		fmt.Sprintf("%s: %s, to the disclosure planned for %s.\n\n%s", c.Ref, how, date, text))
}

// tellReporterOfPlan queues what the reporter hears of a disclosure that
// this mail planned for t0: the proposal to agree to it when the plan
// waits for them, the planned date otherwise.
func (s *session) tellReporterOfPlan(ctx context.Context, t0 time.Time) error {
	if s.c.Publishes() == PublishNote {
		s.noEmbargo = true // a note has no embargo notice
	}
	cs, ok := s.w.scheduler().(ConsentScheduler)
	if !ok {
		return s.toReporter(ctx, templates.Disclosure, fmt.Sprintf("disclose-%d", t0.Unix()), "", "")
	}
	_, waiting, err := cs.ConsentPending(ctx, s.tx, s.c)
	if err != nil {
		return internalErr(err)
	}
	if !waiting {
		return s.toReporter(ctx, templates.Disclosure, fmt.Sprintf("disclose-%d", t0.Unix()), "", "")
	}
	code := newConsentCode()
	if err := cs.AskConsent(ctx, s.tx, s.c, ConsentCodeHash(code)); err != nil {
		return internalErr(err)
	}
	return s.proposeConsent(ctx, t0, code)
}

// proposeConsent sends the reporter the proposal to agree to the
// disclosure at t0, with the code their "/agree" line carries: encrypted
// to their key when one is on file; otherwise in clear, with the case ID
// and the date alone.
func (s *session) proposeConsent(ctx context.Context, t0 time.Time, code string) error {
	r, enc, err := reporterRecipient(s.c)
	if err != nil {
		return err
	}
	d := s.w.data(s.c, s.team)
	if enc {
		d.Consent.Key = r.Key.Fingerprint()
	} else {
		d.Case = templates.CaseData{Ref: d.Case.Ref} // nothing of the case in clear but its ID
	}
	d.Consent.Code = code
	d.Plan.T0, d.Plan.NoEmbargo = t0, s.noEmbargo
	d.Recipient = templates.Person{Address: s.c.ReporterAddr}
	subj, body, err := s.w.render(templates.ConsentProposal, d)
	if err != nil {
		return internalErr(err)
	}
	sk, err := s.w.enqueue(ctx, s.tx, outMail{kind: MailReporter, caseID: s.c.ID,
		notice: s.notice("reporter", fmt.Sprintf("consent-%d", t0.Unix())), subject: subj, body: body, encrypt: enc,
		to: []distlist.Recipient{r}})
	if err != nil {
		return internalErr(err)
	}
	if len(sk) > 0 {
		msg := fmt.Sprintf("the reporter was NOT asked to agree: %s; nothing of the plan goes out before they agree, "+
			"or /disclose again with \"force: REASON\"", skippedList(sk))
		s.extra = append(s.extra, msg)
		if err := s.w.Audit(ctx, s.tx, s.c.ID, ActorGateway, "reporter-skipped", msg, s.mail.MessageID); err != nil {
			return internalErr(err)
		}
		return nil
	}
	how := "encrypted to their key; only their reply signed by it, or encrypted to the team key with its code, counts"
	if !enc {
		how = "in clear with only the date and the case ID, no code: no key of theirs is on file, so no reply by mail counts; " +
			"confirm with them another way"
	}
	s.extra = append(s.extra, "the reporter was asked to agree to the date ("+how+
		"): nothing of the plan goes out before they do, or before /disclose again with \"force: REASON\"")
	return nil
}
