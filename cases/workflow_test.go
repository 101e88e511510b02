package cases

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

func TestOpenCase(t *testing.T) {
	e := newEnv(t, memberDef{name: "Dave", addr: "dave@example.org", role: distlist.RoleMember, rota: 4, away: true})
	alice, bob, carol := e.member("alice@example.org"), e.member("bob@example.org"), e.member("carol@example.org")
	wantLeads := []string{alice.Fingerprint, bob.Fingerprint, carol.Fingerprint, alice.Fingerprint} // dave is away
	for i, want := range wantLeads {
		c := e.open(i == 0)
		if wantRef := FormatRef("SEC", 2026, i+1); c.Ref != wantRef {
			t.Errorf("case %d ref = %s, want %s", i, c.Ref, wantRef)
		}
		if c.Lead != want || c.RotaLead != want {
			t.Errorf("case %s lead = %s, want %s", c.Ref, c.Lead, want)
		}
		if c.State != StateNew {
			t.Errorf("state = %s", c.State)
		}
	}
	c, err := e.wf.Get(e.ctx, "SEC-2026-0001")
	if err != nil {
		t.Fatal(err)
	}
	if c.ReporterAddr != "rita@reporter.example" || c.ReporterKey == "" || c.Terms != "disclose after 90 days" || len(c.Team) != 1 {
		t.Errorf("case = %+v", c)
	}
	msgs, err := e.wf.Messages(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Kind != KindReport || !strings.Contains(msgs[0].Text, "SECRET-REPORT-TEXT") ||
		msgs[0].Subject != "RCE in the frobnicator" || len(msgs[0].Attachments) != 1 || string(msgs[0].Attachments[0].Data) != "echo SECRET-POC" {
		t.Errorf("messages = %+v", msgs)
	}
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, c.ID, Message{Author: "rita@reporter.example", MessageID: "<f@x>", Text: "SECRET-FOLLOWUP"})
	}); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.wf.Messages(e.ctx, c.ID); len(msgs) != 2 || msgs[1].Kind != KindFollowUp || msgs[1].Text != "SECRET-FOLLOWUP" {
		t.Errorf("after AddMessage: %+v", msgs)
	}
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, 999, Message{Text: "x"})
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddMessage to a missing case: %v", err)
	}
	list, err := e.wf.List(e.ctx, ListOptions{Open: true})
	if err != nil || len(list) != 4 || list[0].Ref != "SEC-2026-0004" {
		t.Errorf("List = %d cases, %v", len(list), err)
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Error(err)
	}
	lastContains(t, "audit event", e.audit(c.ID), "message: followup stored")

	// Nothing of the report is in the database file in clear.
	path := e.db.Path()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secret := range []string{"SECRET-REPORT-TEXT", "SECRET-POC", "SECRET-FOLLOWUP", "disclose after 90 days", "RCE in the frobnicator", "poc.sh"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains %q in clear", f, secret)
			}
		}
	}
}

func TestOpenCaseNobodyOnRota(t *testing.T) {
	e := newEnv(t)
	for _, a := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		if err := e.dir.SetAway(e.ctx, nil, a, true); err != nil {
			t.Fatal(err)
		}
	}
	c := e.open(false)
	if c.Lead != "" {
		t.Errorf("lead = %s, want none", c.Lead)
	}
	lastContains(t, "audit event", e.audit(c.ID), "no fix lead available")
}

func TestAuditChain(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	for i := 0; i < 3; i++ {
		if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			return e.wf.Audit(e.ctx, tx, c.ID, "X", "test", "event", "<m@x>")
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	// The table refuses changes.
	if _, err := e.db.Writer().Exec(`UPDATE case_audit SET detail = 'x' WHERE case_id = ?`, c.ID); err == nil {
		t.Fatal("audit row updated")
	}
	if _, err := e.db.Writer().Exec(`DELETE FROM case_audit WHERE case_id = ?`, c.ID); err == nil {
		t.Fatal("audit row deleted")
	}
	// Someone with write access to the file drops the trigger and edits an event.
	if _, err := e.db.Writer().Exec(`DROP TRIGGER case_audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(`UPDATE case_audit SET detail = 'forged' WHERE case_id = ? AND seq = 2`, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "event 2") {
		t.Fatalf("VerifyAudit after tampering = %v", err)
	}
}

// TestCaseNewToFixCommitted drives one case through its lifecycle with real
// signed and encrypted command mail from team members.
func TestCaseNewToFixCommitted(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	subj := "Re: [" + c.Ref + "] New report"
	step := func(from string, body string, wantState State) {
		t.Helper()
		e.clock.Advance(time.Hour)
		key := e.keys[strings.Trim(from[strings.Index(from, "<")+1:], "<>")]
		e.handle(e.signed(from, key, subj, body, e.clock.Now().Add(-time.Minute)))
		got := e.get(c.ID)
		if got.State != wantState {
			addr := strings.Trim(from[strings.Index(from, "<")+1:], "<>")
			t.Fatalf("after %q: state %s, want %s; answers: %q", body, got.State, wantState, e.mailsTo(addr, MailAnswer))
		}
	}
	step("Alice <alice@example.org>", "/status confirmed\n/class A\n/credit consent yes\n/credit Rita R.\nThanks, reproduced on 1.2.", StateConfirmed)
	step("Bob <bob@example.org>", "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/affected < 1.2.3\n/note checked the PoC\n\nagain", StateConfirmed)
	step("Alice <alice@example.org>", "/impact The frobnicator runs commands from the X-Frob header.\nAn unauthenticated attacker gets a shell.\n/status triaged", StateTriaged)
	step("Alice <alice@example.org>", "/status in-progress\n/advisory GHSA-2c8m-r3w5-h4fq", StateCVERequested)
	step("Alice <alice@example.org>", "/cve CVE-2026-12345\n/fixed 1.2.3\n/reply We will publish on 15 December; you will be credited.\n/disclose 2026-12-15 16:00 UTC\n/status fix-committed", StateFixCommitted)

	got := e.get(c.ID)
	if got.Class != "A" || got.CVSSScore != 9.8 || got.Severity != "CRITICAL" || got.CVE != "CVE-2026-12345" ||
		got.Advisory != "GHSA-2c8m-r3w5-h4fq" || got.Affected != "< 1.2.3" || got.Fixed != "1.2.3" ||
		got.Credit != "Rita R." || got.CreditConsent != ConsentYes || !strings.Contains(got.Impact, "shell") ||
		!got.DiscloseAt.Equal(time.Date(2026, 12, 15, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("case = %+v", got)
	}
	if len(e.sched.calls) != 1 || !strings.Contains(e.sched.calls[0], "disclose SEC-2026-0001 2026-12-15T16:00:00Z") {
		t.Errorf("scheduler calls = %q", e.sched.calls)
	}
	if e.sched.kicks != 5 {
		t.Errorf("scheduler woken %d times, want once after each of the 5 command mails", e.sched.kicks)
	}
	answers := e.mailsTo("alice@example.org", MailAnswer)
	if len(answers) != 4 {
		t.Fatalf("alice got %d answers, want 4", len(answers))
	}
	lastContains(t, "answer", answers, "state cve-requested -> fix-committed")
	if b := e.mailsTo("bob@example.org", MailAnswer); len(b) != 1 || !strings.Contains(b[0], "score 9.8, severity CRITICAL") {
		t.Errorf("bob's answers = %q", b)
	}
	// The confirmation went to the reporter, encrypted to her key, and so
	// did the reply and the disclosure date.
	rep := e.mailsTo("rita@reporter.example", MailReporter)
	if len(rep) != 3 || !strings.Contains(rep[0], "work on a fix has begun") || !strings.Contains(rep[1], "We will publish on 15 December") ||
		!strings.Contains(rep[2], "2026-12-15 16:00 UTC") {
		t.Errorf("reporter mails = %q", rep)
	}
	msgs, err := e.wf.Messages(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, m := range msgs {
		kinds[m.Kind]++
	}
	if kinds[KindComment] != 2 || kinds[KindNote] != 1 || kinds[KindReply] != 1 {
		t.Errorf("message kinds = %v", kinds)
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Error(err)
	}
	var transitions int
	for _, a := range e.audit(c.ID) {
		if strings.HasPrefix(a, "status: state ") {
			transitions++
		}
	}
	if transitions != 4 {
		t.Errorf("%d state changes in the audit log, want 4: %q", transitions, e.audit(c.ID))
	}
}

func TestThreadingAndCaseLine(t *testing.T) {
	e := newEnv(t)
	c1 := e.open(false)
	c2 := e.open(false)
	alice := e.keys["alice@example.org"]
	// A /case line names the case; the subject has no tag.
	e.handle(e.signed("alice@example.org", alice, "hello", "/case "+c2.Ref+"\n/class D", t0))
	if e.get(c2.ID).Class != "D" || e.get(c1.ID).Class != "" {
		t.Fatal("/case line did not select the case")
	}
	// A reply threads to the answer the gateway sent (In-Reply-To).
	var msgid string
	if err := e.db.Reader().QueryRow(`SELECT message_id FROM outbox WHERE case_id = ? ORDER BY id DESC LIMIT 1`, c2.ID).Scan(&msgid); err != nil {
		t.Fatal(err)
	}
	// A reply that only threads (In-Reply-To, unsigned) does not say
	// which case: anyone delivering a copy first could thread it elsewhere.
	m := e.signed("alice@example.org", alice, "Re: ...", "/class E", t0)
	m.InReplyTo = "<" + msgid + ">"
	e.handle(m)
	if e.get(c2.ID).Class != "D" {
		t.Fatal("a reply naming its case only in the unsigned thread was applied")
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "does not name the case")
	// With the tag in the signed Subject, it is applied.
	m = e.signed("alice@example.org", alice, "Re: ["+c2.Ref+"] ...", "/class E", t0)
	m.InReplyTo = "<" + msgid + ">"
	e.handle(m)
	if e.get(c2.ID).Class != "E" {
		t.Fatalf("threaded reply not applied: %q", e.mailsTo("alice@example.org", MailAnswer))
	}
	// Signed for one case, threaded to another: refused, in case a copy
	// was redirected.
	m = e.signed("alice@example.org", alice, "Re: ["+c1.Ref+"] ...", "/class A", t0)
	m.InReplyTo = "<" + msgid + ">"
	e.handle(m)
	if e.get(c1.ID).Class != "" || e.get(c2.ID).Class != "E" {
		t.Fatal("a mail whose signed and unsigned cases disagree was applied")
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "points to another case")
}

func TestLeadHandoff(t *testing.T) {
	e := newEnv(t)
	c := e.open(false) // lead: alice (rota)
	subj := "[" + c.Ref + "]"
	send := func(from string, body string) {
		t.Helper()
		e.clock.Advance(time.Minute)
		e.handle(e.signed(from, e.keys[from], subj, body, e.clock.Now()))
	}
	// Bob cannot take a case whose lead is present and did not agree.
	send("bob@example.org", "/lead take")
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "ask them to /lead offer")
	// Bob cannot offer: he is not the lead.
	send("bob@example.org", "/lead offer @carol")
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "only the fix lead")
	// Step 1: the lead offers.
	send("alice@example.org", "/lead offer @bob")
	if got := e.get(c.ID); got.Lead != e.member("alice@example.org").Fingerprint || got.LeadOffer != e.member("bob@example.org").Fingerprint {
		t.Fatalf("after offer: lead %s offer %s", got.Lead, got.LeadOffer)
	}
	lastContains(t, "hand-off mail", e.mailsTo("bob@example.org", MailHandoff), "offers you the fix lead")
	// Carol cannot accept an offer made to Bob.
	send("carol@example.org", "/lead accept")
	lastContains(t, "answer", e.mailsTo("carol@example.org", MailAnswer), "has not been offered to you")
	// Step 2: Bob accepts; step 3: the gateway confirms to both.
	send("bob@example.org", "/lead accept")
	got := e.get(c.ID)
	if got.Lead != e.member("bob@example.org").Fingerprint || got.LeadOffer != "" {
		t.Fatalf("after accept: lead %s offer %s", got.Lead, got.LeadOffer)
	}
	lastContains(t, "confirmation to the old lead", e.mailsTo("alice@example.org", MailHandoff), "Confirmed: Bob <bob@example.org>")
	lastContains(t, "confirmation to the new lead", e.mailsTo("bob@example.org", MailHandoff), "Confirmed: Bob <bob@example.org>")
	// Bob releases; Carol takes.
	send("bob@example.org", "/lead release")
	send("carol@example.org", "/lead take\n/team add @bob")
	got = e.get(c.ID)
	if got.Lead != e.member("carol@example.org").Fingerprint {
		t.Fatalf("after take: lead %s; %q", got.Lead, e.mailsTo("carol@example.org", MailAnswer))
	}
	// Carol goes away: the rota skips her and Alice may take.
	if err := e.dir.SetAway(e.ctx, nil, "carol@example.org", true); err != nil {
		t.Fatal(err)
	}
	send("alice@example.org", "/lead take")
	if got := e.get(c.ID); got.Lead != e.member("alice@example.org").Fingerprint {
		t.Fatalf("take from an away lead failed: %q", e.mailsTo("alice@example.org", MailAnswer))
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Error(err)
	}
}

func TestReporterToldOnDecisions(t *testing.T) {
	e := newEnv(t)
	withKey := e.open(true)
	clear := e.open(false)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+withKey.Ref+"]", "/status incomplete", t0))
	e.handle(e.signed("alice@example.org", alice, "["+clear.Ref+"]", "/close wontfix outside the threat model", t0))
	rita := e.mailsTo("rita@reporter.example", MailReporter)
	if len(rita) != 2 {
		t.Fatalf("reporter got %d mails, want 2", len(rita))
	}
	if !strings.Contains(rita[0], "More information") && !strings.Contains(rita[0], "could not yet confirm") {
		t.Errorf("incomplete text = %q", rita[0])
	}
	if !strings.Contains(rita[1], "decided not to fix") || !strings.Contains(rita[1], "outside the threat model") {
		t.Errorf("wontfix text = %q", rita[1])
	}
	var enc []int
	rows, _ := e.db.Reader().Query(`SELECT encrypt FROM outbox WHERE kind = ? ORDER BY id`, MailReporter)
	for rows.Next() {
		var x int
		rows.Scan(&x)
		enc = append(enc, x)
	}
	rows.Close()
	if len(enc) != 2 || enc[0] != 1 || enc[1] != 0 {
		t.Errorf("encrypt flags = %v, want [1 0] (key known, then not)", enc)
	}
	if got := e.get(clear.ID); got.State != StateWontfix || got.CloseReason != "outside the threat model" {
		t.Errorf("case = %s %q", got.State, got.CloseReason)
	}
}

func TestHelpAndLog(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	bob := e.keys["bob@example.org"]
	e.handle(e.signed("bob@example.org", bob, "["+c.Ref+"]", "/help\n/log", t0))
	ans := e.mailsTo("bob@example.org", MailAnswer)
	if len(ans) != 2 {
		t.Fatalf("%d answers, want help and log", len(ans))
	}
	if !strings.Contains(ans[0], "/publish-now") {
		t.Errorf("help = %q", ans[0])
	}
	if !strings.Contains(ans[1], "open") || !strings.Contains(ans[1], "gateway") {
		t.Errorf("log = %q", ans[1])
	}
}

func TestListCommands(t *testing.T) {
	e := newEnv(t)
	if err := e.dir.CreateList(e.ctx, nil, "embargo", distlist.KindEmbargo, ""); err != nil {
		t.Fatal(err)
	}
	vendor := testKey(t, "sec@vendor.example", 0)
	alice, bob := e.keys["alice@example.org"], e.keys["bob@example.org"]
	e.handle(e.signed("alice@example.org", alice, "lists", "/list add embargo sec@vendor.example\n"+armorPub(t, vendor), t0))
	l, err := e.dir.List(e.ctx, "embargo")
	if err != nil || len(l.Recipients) != 1 || l.Recipients[0].Address != "sec@vendor.example" {
		t.Fatalf("list = %+v, %v; answer %q", l, err, e.mailsTo("alice@example.org", MailAnswer))
	}
	lastContains(t, "gateway audit", e.audit(GatewayLog), "list: sec@vendor.example added to embargo")
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "sec@vendor.example added to embargo")
	// Bob's role does not allow it.
	e.handle(e.signed("bob@example.org", bob, "lists", "/list remove embargo sec@vendor.example", t0))
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "needs the lead role")
	lastContains(t, "gateway audit", e.audit(GatewayLog), "refused")
	e.handle(e.signed("alice@example.org", alice, "lists", "/list remove embargo sec@vendor.example", t0))
	if l, _ := e.dir.List(e.ctx, "embargo"); len(l.Recipients) != 0 {
		t.Fatalf("recipient not removed")
	}
	lastContains(t, "gateway audit", e.audit(GatewayLog), "removed from embargo")

	// The key as an attachment of the signed mail.
	entity := "Content-Type: multipart/mixed; boundary=\"k1\"\r\n\r\n--k1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"/list add embargo sec@vendor.example\r\n--k1\r\nContent-Type: application/pgp-keys\r\n" +
		"Content-Disposition: attachment; filename=\"vendor.asc\"\r\n\r\n" +
		strings.ReplaceAll(armorPub(t, vendor), "\n", "\r\n") + "\r\n--k1--\r\n"
	sg, err := alice.Sign(crypto.Content{Subject: "lists", From: "alice@example.org", Entity: []byte(entity)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sg.SealFor(e.team.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	e.handle(e.openRaw("alice@example.org", "lists", sealed))
	if l, _ := e.dir.List(e.ctx, "embargo"); len(l.Recipients) != 1 || l.Recipients[0].Key == nil {
		t.Fatalf("attached key not used: %q", e.mailsTo("alice@example.org", MailAnswer))
	}
	// A key that is not the address's is refused.
	other := testKey(t, "someone@else.example", 0)
	e.handle(e.signed("alice@example.org", alice, "lists", "/list add embargo ops@vendor.example\n"+armorPub(t, other), t0))
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "NOT applied")
	// Only embargo lists are managed by mail.
	if err := e.dir.CreateList(e.ctx, nil, "announce", distlist.KindPublic, ""); err != nil {
		t.Fatal(err)
	}
	e.handle(e.signed("alice@example.org", alice, "lists", "/list remove announce x@y.example", t0))
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "only embargo lists")
	if err := e.wf.VerifyAudit(e.ctx, GatewayLog); err != nil {
		t.Error(err)
	}
}

func TestSchedulerErrorRollsBack(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	e.sched.err = errors.New("too close: the policy needs 21 days of notice")
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class B1\n/disclose 2026-11-21 00:00 UTC", t0))
	if got := e.get(c.ID); got.Class != "" || !got.DiscloseAt.IsZero() {
		t.Fatalf("case changed: class %q disclose %v", got.Class, got.DiscloseAt)
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "21 days")
}

func TestSetStateAndUpdateCase(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.SetState(e.ctx, tx, c.ID, StateFixReleased, ActorGateway, "announced")
	})
	if !errors.Is(err, ErrTransition) {
		t.Fatalf("new -> fix-released: %v", err)
	}
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.SetState(e.ctx, tx, c.ID, StateInvalid, ActorGateway, "test")
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.State != StateInvalid {
		t.Fatalf("state %s", got.State)
	}
	lastContains(t, "audit", e.audit(c.ID), "status: state new -> invalid: test")
	if n := len(e.mailsTo("rita@reporter.example", MailReporter)); n != 1 {
		t.Errorf("reporter got %d mails, want the decision", n)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.UpdateCase(e.ctx, tx, c.ID, ActorGateway, "plan", "disclosure moved", "", func(c *Case) error {
			c.DiscloseAt = at
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); !got.DiscloseAt.Equal(at) {
		t.Errorf("disclose at %v", got.DiscloseAt)
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Error(err)
	}
}

// TestFallbackTexts renders every built-in text against the templates'
// sample data, and runs a command mail on a workflow without a template set.
func TestFallbackTexts(t *testing.T) {
	for name := range fallbackSources {
		subj, body, err := renderFallback(name, templates.Sample())
		if err != nil || subj == "" || body == "" || strings.Contains(subj, "\n") {
			t.Errorf("%s: subject %q body %d bytes, %v", name, subj, len(body), err)
		}
	}
	e := newEnv(t)
	e.wf.tmpl = nil
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/status incomplete\n/help\n/log", t0))
	if got := e.mailsTo("alice@example.org", MailAnswer); len(got) != 3 || !strings.Contains(got[0], "state new -> incomplete") {
		t.Fatalf("answers = %q", got)
	}
	lastContains(t, "reporter mail", e.mailsTo("rita@reporter.example", MailReporter), "Thank you for your report "+c.Ref)
}

// TestBigMessageInPieces: a report text and an attachment above
// store.ChunkSize are stored in pieces and read back intact.
func TestBigMessageInPieces(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	text := strings.Repeat("overflow in the frobnicator, see the dump; ", (store.ChunkSize+4096)/43)
	data := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x01}, 3*store.ChunkSize/5)
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.AddMessage(e.ctx, tx, c.ID, Message{Author: "rita@reporter.example", MessageID: "<big@x>", Text: text,
			Attachments: []Attachment{{Filename: "core.bin", ContentType: "application/octet-stream", Data: data}}})
	}); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.wf.Messages(e.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Text != text || len(msgs[1].Attachments) != 1 || !bytes.Equal(msgs[1].Attachments[0].Data, data) {
		t.Fatalf("big message did not come back intact (%d messages)", len(msgs))
	}
	for _, owner := range []string{"case_messages", "case_attachments"} {
		var n int
		e.db.Reader().QueryRow(`SELECT count(*) FROM blob_chunk WHERE owner = ?`, owner).Scan(&n)
		if n < 2 {
			t.Errorf("%s: %d pieces, want the value split", owner, n)
		}
	}
}

// TestOpenCaseGivenTeam: OpenCase takes the fix lead from the team its
// caller read (intake reads it once per batch) rather than reading it again.
func TestOpenCaseGivenTeam(t *testing.T) {
	e := newEnv(t)
	team, err := e.dir.Team(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	bob := e.member("bob@example.org")
	var only []distlist.Member
	for _, m := range team {
		if m.Fingerprint == bob.Fingerprint {
			only = append(only, m)
		}
	}
	var c *Case
	err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		c, err = e.wf.OpenCase(e.ctx, tx, Report{From: "rita@reporter.example", Text: "x", MessageID: "<r@x>", Team: only})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read from the directory, the rota would start with alice.
	if c.Lead != bob.Fingerprint {
		t.Errorf("lead %s, want bob %s, the only member of the team given", c.Lead, bob.Fingerprint)
	}
	if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
		t.Error(err)
	}
}

// TestNotMeantForUs: a mail a member signed for someone else (no signed
// To, no Intended Recipient naming the team key) counts only when it came
// to the gateway alone: re-sent to it with another recipient beside, it
// is refused, though it names the case in its signed Subject.
func TestNotMeantForUs(t *testing.T) {
	e := newEnv(t)
	c := e.open(false)
	alice := e.keys["alice@example.org"]
	m := e.signed("alice@example.org", alice, "["+c.Ref+"] x", "/class D", t0)
	m.Recipients = []string{"bob@example.org", teamAddr}
	e.handle(m)
	if e.get(c.ID).Class != "" {
		t.Fatal("a mail not meant for the gateway alone was applied")
	}
	lastContains(t, "answer", e.mailsTo("alice@example.org", MailAnswer), "meant for the gateway")
	m = e.signed("alice@example.org", alice, "["+c.Ref+"] x", "/class D", t0)
	e.handle(m)
	if e.get(c.ID).Class != "D" {
		t.Fatal("the same mail sent to the gateway alone was not applied")
	}
}
