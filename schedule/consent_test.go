package schedule

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
)

// TestReporterConsent: under kata (reporter_consent), a /disclose only
// proposes the date to the reporter; nothing of the plan exists as jobs
// and nothing reaches the distributors until the reporter's reply carries
// the proposal's "/agree CODE" at the start of a line and is signed by
// their key on file. Each look-alike is refused and the lead told why;
// the timeline shows the wait and then the agreement.
func TestReporterConsent(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	rita, other := e.key("rita@reporter.example"), e.key("rita@reporter.example")
	c := e.kataCase(string(e.armor(rita)), "2026-12-03 00:00 UTC")
	if a := e.answers(); !strings.Contains(a[len(a)-1], "the reporter was asked to agree") {
		t.Fatalf("answer to /disclose: %q", a[len(a)-1])
	}
	jobs := func() int {
		js, err := e.s.Jobs(e.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(js)
	}
	if n := jobs(); n != 0 {
		t.Fatalf("%d jobs while the plan waits for the reporter, want 0", n)
	}
	proposals := e.mailTo("rita@reporter.example", cases.MailReporter, rita)
	var code string
	for _, p := range proposals {
		if m := regexp.MustCompile(`(?m)^\s+/agree ([0-9A-Z]{4}-[0-9A-Z]{4})\s*$`).FindStringSubmatch(p); m != nil {
			code = m[1]
		}
	}
	if code == "" {
		t.Fatalf("no proposal with a code to the reporter, encrypted to her key: %q", proposals)
	}
	e.checkConsentStep(c, "waiting")

	followUp := func(n int, from, text, signer string, encrypted bool) {
		t.Helper()
		err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			return e.wf.AddMessage(e.ctx, tx, c.ID, cases.Message{Kind: cases.KindFollowUp, Author: from,
				MessageID: fmt.Sprintf("<f%d@reporter.example>", n), Subject: "Re: proposal", Text: text,
				Encrypted: encrypted, Received: e.clk.Now(), Signer: signer})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
	}
	alerts := func() []string { return e.mailTo("alice@example.org", cases.MailAlert, e.lead) }
	for i, tc := range []struct {
		name, from, text, signer, why string
		clear                         bool
	}{
		{"in clear, unsigned", "rita@reporter.example", "/agree " + code, "", "came in clear and is not signed by the reporter's key on file", true},
		{"encrypted, unsigned, wrong code", "rita@reporter.example", "/agree BBBB-BBBB", "", "not the code of the current proposal", false},
		{"another key", "rita@reporter.example", "/agree " + code, other.Fingerprint(), "signed by another key", false},
		{"quoted", "rita@reporter.example", "Fine.\n> /agree " + code, rita.Fingerprint(), `no line "/agree CODE"`, false},
		{"indented as in the proposal", "rita@reporter.example", "    /agree " + code, rita.Fingerprint(), `no line "/agree CODE"`, false},
		{"words", "rita@reporter.example", "I agree with the date.", rita.Fingerprint(), `no line "/agree CODE"`, false},
		{"wrong code", "rita@reporter.example", "/agree AAAA-AAAA", rita.Fingerprint(), "not the code of the current proposal", false},
		{"no code", "rita@reporter.example", "/agree", rita.Fingerprint(), "has no code", false},
	} {
		before := len(alerts())
		followUp(i, tc.from, tc.text, tc.signer, !tc.clear)
		a := alerts()
		if len(a) != before+1 || !strings.Contains(a[len(a)-1], "does not count") || !strings.Contains(a[len(a)-1], tc.why) {
			t.Errorf("%s: the lead's alerts %q, want one saying %q", tc.name, a[before:], tc.why)
		}
		if n := jobs(); n != 0 || e.vendorMails() != 0 {
			t.Fatalf("%s: counted as consent: %d jobs, %d mails to the distributor", tc.name, n, e.vendorMails())
		}
	}
	// The right line from someone else's address is not the reporter's.
	followUp(20, "mallory@elsewhere.example", "/agree "+code, rita.Fingerprint(), true)
	if n := jobs(); n != 0 {
		t.Fatalf("an agreement from another address counted: %d jobs", n)
	}

	followUp(21, "Rita <rita@reporter.example>", "Fine with me.\n\n/agree "+strings.ToLower(code)+"\n", rita.Fingerprint(), false)
	if n := jobs(); n == 0 {
		t.Fatal("the reporter's signed agreement did not release the plan")
	}
	if a := alerts(); !strings.Contains(a[len(a)-1], "agreed") {
		t.Errorf("the lead is not told of the agreement: %q", a[len(a)-1])
	}
	e.checkConsentStep(c, "done")
	e.clk.Set(utc("2026-12-02 23:00"))
	if _, err := e.s.RunDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if e.vendorMails() == 0 {
		t.Error("no embargo notice after the reporter agreed")
	}
}

// TestReporterConsentEncrypted: the proposal went encrypted to the
// reporter's key, so an unsigned reply encrypted to the team key with its
// code is theirs too.
func TestReporterConsentEncrypted(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	rita := e.key("rita@reporter.example")
	c := e.kataCase(string(e.armor(rita)), "2026-12-03 00:00 UTC")
	var code string
	for _, p := range e.mailTo("rita@reporter.example", cases.MailReporter, rita) {
		if m := regexp.MustCompile(`(?m)^\s+/agree (\S+)\s*$`).FindStringSubmatch(p); m != nil {
			code = m[1]
		}
	}
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, c.ID, cases.Message{Kind: cases.KindFollowUp, Author: "rita@reporter.example",
			MessageID: "<f1@reporter.example>", Text: "/agree " + code, Encrypted: true, Received: e.clk.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if js, err := e.s.Jobs(e.ctx, c.ID); err != nil || len(js) == 0 {
		t.Fatalf("an encrypted reply with the code did not release the plan: %d jobs, %v", len(js), err)
	}
	e.checkConsentStep(c, "done")
}

// TestReporterConsentForced: a lead who goes ahead without the reporter
// forces a /disclose while the plan waits; the audit log says so, and a
// new date asks again with a new code, so that the old one counts no more.
func TestReporterConsentForced(t *testing.T) {
	e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
	rita := e.key("rita@reporter.example")
	c := e.kataCase(string(e.armor(rita)), "2026-12-02 00:00 UTC")
	e.command(c, "/disclose 2026-12-03 00:00 UTC")
	codes := map[string]bool{}
	for _, p := range e.mailTo("rita@reporter.example", cases.MailReporter, rita) {
		if m := regexp.MustCompile(`(?m)^\s+/agree (\S+)\s*$`).FindStringSubmatch(p); m != nil {
			codes[m[1]] = true
		}
	}
	if len(codes) != 2 {
		t.Fatalf("two proposals for two dates carry %d distinct codes, want 2", len(codes))
	}
	e.command(c, "/disclose 2026-12-03 00:00 UTC force: the reporter does not answer")
	js, err := e.s.Jobs(e.ctx, c.ID)
	if err != nil || len(js) == 0 {
		t.Fatalf("a forced /disclose while the plan waits: %d jobs, %v", len(js), err)
	}
	log, err := e.wf.AuditLog(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var forced bool
	for _, ev := range log {
		forced = forced || (ev.Action == "consent-forced" && strings.Contains(ev.Detail, "the reporter does not answer"))
	}
	if !forced {
		t.Error("the audit log does not say the reporter's consent was overridden, and why")
	}
	e.checkConsentStep(c, "done")
}

// checkConsentStep checks that c's timeline has a step for the reporter's
// consent in state.
func (e *workflowEnv) checkConsentStep(c *cases.Case, state string) {
	e.t.Helper()
	steps, err := e.s.Steps(e.ctx, c)
	if err != nil {
		e.t.Fatal(err)
	}
	var got []string
	for _, st := range steps {
		if st.Kind == StepConsent {
			got = append(got, st.State)
		}
	}
	if len(got) == 0 || got[len(got)-1] != state {
		e.t.Errorf("consent steps in states %v, want the last %s", got, state)
	}
}

// kataCase opens a kata case from Rita's report (key: her armored key on
// file, "" for none), triages it as the lead, and plans its disclosure at
// t0 ("YYYY-MM-DD HH:MM UTC"), which then waits for her consent.
func (e *workflowEnv) kataCase(key, t0 string) *cases.Case {
	e.t.Helper()
	c := e.open("<r1@reporter.example>", "upload traversal", "POST /upload with ../ writes anywhere", "kata", key)
	e.command(c, "/status confirmed\n/class A\n/affected < 1.2.3\n/fixed 1.2.3\n/cve CVE-2026-12345")
	e.command(c, "/impact\nAn unauthenticated attacker can write files anywhere.\n")
	e.command(c, "/status triaged\n/status cve-requested\n/disclose "+t0)
	return c
}
