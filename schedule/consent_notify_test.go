package schedule

import (
	"database/sql"
	"regexp"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
)

// TestConsentWithoutKeyNotByMail: without a key on file the proposal goes
// in clear, so it carries no code, and no reply by mail counts: anyone can
// encrypt "/agree ..." to the team's public key with the reporter's From.
// The lead is told to confirm another way and force.
func TestConsentWithoutKeyNotByMail(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	c := e.kataCase("", "2026-12-03 00:00 UTC")
	if a := e.answers(); !strings.Contains(a[len(a)-1], "no reply by mail counts") {
		t.Errorf("the lead is not told that no reply by mail counts: %q", a[len(a)-1])
	}
	// What an eavesdropper reads: the raw bytes of the mail in clear.
	rows, err := e.db.Reader().Query(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.recipient = ? AND o.kind = ?`,
		"rita@reporter.example", cases.MailReporter)
	if err != nil {
		t.Fatal(err)
	}
	var proposals int
	for rows.Next() {
		var raw []byte
		rows.Scan(&raw)
		if strings.Contains(string(raw), "Do you agree") {
			proposals++
		}
		if regexp.MustCompile(`/agree [0-9A-Z]{4}-[0-9A-Z]{4}`).Match(raw) {
			t.Errorf("a proposal in clear carries a code:\n%s", raw)
		}
	}
	rows.Close()
	if proposals != 1 {
		t.Fatalf("%d proposals to the reporter, want 1", proposals)
	}
	// The forger: unsigned, encrypted to the (public) team key, the
	// reporter's address in From, a code of the right shape.
	before := len(e.mailTo("alice@example.org", cases.MailAlert, e.lead))
	err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, c.ID, cases.Message{Kind: cases.KindFollowUp, Author: "rita@reporter.example",
			MessageID: "<forged@evil.example>", Text: "/agree ABCD-EFGH", Encrypted: true, Received: e.clk.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := e.s.Jobs(e.ctx, c.ID); len(js) != 0 {
		t.Errorf("a reply by mail released the plan (%d jobs) though the reporter has no key on file", len(js))
	}
	if a := e.mailTo("alice@example.org", cases.MailAlert, e.lead); len(a) != before+1 || !strings.Contains(a[len(a)-1], "no key on file") {
		t.Errorf("the lead's alerts %q, want one saying the reporter has no key on file", a[before:])
	}
	// The lead confirms with the reporter another way and forces.
	e.command(c, "/disclose 2026-12-03 00:00 UTC force: Rita agreed on the phone")
	if js, _ := e.s.Jobs(e.ctx, c.ID); len(js) == 0 {
		t.Error("the forced /disclose did not release the plan")
	}
}

// TestNotifyForceWaitsForConsent: while a plan waits for the reporter
// (reporter_consent), a lead's /notify sends the embargo notice to the
// distributors: NotifyNow never looks at the wait. Its "force:" is about
// the embargo's length (the policy's longest), not the reporter, yet the
// reporter's consent is skipped and no consent-forced event is logged.
func TestNotifyForceWaitsForConsent(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	rita := e.key("rita@reporter.example")
	c := e.kataCase(string(e.armor(rita)), "2026-12-03 00:00 UTC")
	if n := e.vendorMails(); n != 0 {
		t.Fatalf("%d mails to the distributor before /notify", n)
	}
	e.command(c, "/notify force: the vendors asked for the longer embargo")
	if a := e.answers(); len(a) > 0 {
		t.Logf("answer to /notify: %s", a[len(a)-1])
	}
	if n := e.vendorMails(); n != 0 {
		t.Errorf("/notify (force for the embargo length only) sent %d embargo notice(s) while the plan waits for the reporter's consent", n)
	}
}

// TestNotifyWaitsForConsent: the same with a date the
// policy's longest embargo allows, and no force at all.
func TestNotifyWaitsForConsent(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	rita := e.key("rita@reporter.example")
	c := e.kataCase(string(e.armor(rita)), "2026-11-26 00:00 UTC")
	a := e.answers()
	if !strings.Contains(a[len(a)-1], "the reporter was asked to agree") {
		t.Skipf("/disclose not waiting for consent: %s", a[len(a)-1])
	}
	e.command(c, "/notify")
	a = e.answers()
	t.Logf("answer to /notify: %s", a[len(a)-1])
	if n := e.vendorMails(); n != 0 {
		t.Errorf("a plain /notify sent %d embargo notice(s) while the plan waits for the reporter's consent", n)
	}
}
