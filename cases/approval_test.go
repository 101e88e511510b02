package cases

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var approvalRef = regexp.MustCompile(`/approve (AP-[A-Z2-9]{6})`)

// TestTwoPersonRule: with [cases] approvals = 2, the lead's signed
// /publish-now does not run: every member is asked to approve it; the lead
// cannot approve it herself; a second member's signed /approve runs it as
// hers, once; a step nobody approves expires and its author is told; with
// the rule off the step runs at once.
func TestTwoPersonRule(t *testing.T) {
	e := newEnv(t)
	e.wf.cfg.Approvals = 2
	c := e.open(true)
	subj := "Re: [" + c.Ref + "] New report"

	send := func(from, body string) {
		t.Helper()
		e.clock.Advance(time.Minute)
		addr := strings.ToLower(strings.Fields(from)[0]) + "@example.org"
		e.handle(e.signed(from+" <"+addr+">", e.keys[addr], subj, body, e.clock.Now().Add(-time.Second)))
	}

	send("Alice", "/publish-now the patch is on a public mirror")
	if len(e.sched.calls) != 0 {
		t.Fatalf("the step ran without a second member: %v", e.sched.calls)
	}
	lastContains(t, "Alice's answer", e.mailsTo("alice@example.org", MailAnswer), "publish now waits for a second member: /approve AP-")
	asked := e.mailsTo("carol@example.org", MailApproval)
	lastContains(t, "Carol's request", asked, "/publish-now the patch is on a public mirror")
	m := approvalRef.FindStringSubmatch(asked[len(asked)-1])
	if m == nil {
		t.Fatalf("no reference in the request:\n%s", asked[len(asked)-1])
	}
	ref := m[1]

	send("Alice", "/approve "+ref)
	lastContains(t, "Alice's own approval", e.mailsTo("alice@example.org", MailAnswer), "you asked for "+ref+" yourself")
	if len(e.sched.calls) != 0 {
		t.Fatalf("the author's own approval ran the step: %v", e.sched.calls)
	}

	send("Bob", "/approve "+ref)
	if len(e.sched.calls) != 1 || e.sched.calls[0] != "publish "+c.Ref+" the patch is on a public mirror" {
		t.Fatalf("after Bob's approval: %v", e.sched.calls)
	}
	lastContains(t, "Bob's answer", e.mailsTo("bob@example.org", MailAnswer), "approved "+ref+", asked by Alice")
	audit := strings.Join(e.audit(c.ID), "\n")
	if !strings.Contains(audit, "approved "+ref) {
		t.Errorf("the approval is not in the audit log:\n%s", audit)
	}

	send("Bob", "/approve "+ref)
	lastContains(t, "a second approval", e.mailsTo("bob@example.org", MailAnswer), ref+" was approved already")
	if len(e.sched.calls) != 1 {
		t.Fatalf("an approval ran twice: %v", e.sched.calls)
	}

	// A step nobody approves expires.
	send("Alice", "/close wontfix not worth it")
	asked = e.mailsTo("bob@example.org", MailApproval)
	ref2 := approvalRef.FindStringSubmatch(asked[len(asked)-1])[1]
	e.clock.Advance(25 * time.Hour)
	if n, err := e.wf.ExpireApprovals(e.ctx); err != nil || n != 1 {
		t.Fatalf("ExpireApprovals: %d %v", n, err)
	}
	lastContains(t, "Alice told", e.mailsTo("alice@example.org", MailApproval), "No second member approved "+ref2)
	send("Bob", "/approve "+ref2)
	lastContains(t, "a late approval", e.mailsTo("bob@example.org", MailAnswer), ref2+" expired")
	if got := e.get(c.ID); got.State == StateWontfix {
		t.Fatal("an expired step ran")
	}

	// The rule off: the step runs at once.
	e.wf.cfg.Approvals = 0
	send("Alice", "/close wontfix not worth it")
	if got := e.get(c.ID); got.State != StateWontfix {
		t.Fatalf("with the rule off /close wontfix left the case %s", got.State)
	}
}

// TestBreakGlass: a member [cases] break_glass names takes the step alone
// with /break-glass REASON and every member is told at once; another
// member's /break-glass is refused and nothing runs.
func TestBreakGlass(t *testing.T) {
	e := newEnv(t)
	e.wf.cfg.Approvals = 2
	e.wf.cfg.BreakGlass = []string{"bob@example.org"}
	c := e.open(true)
	subj := "Re: [" + c.Ref + "] New report"
	e.clock.Advance(time.Minute)
	e.handle(e.signed("Alice <alice@example.org>", e.keys["alice@example.org"], subj, "/publish-now exploit in the wild\n/break-glass nobody else reachable", e.clock.Now().Add(-time.Second)))
	lastContains(t, "Alice refused", e.mailsTo("alice@example.org", MailAnswer), "/break-glass is for the members [cases] break_glass names")
	if len(e.sched.calls) != 0 {
		t.Fatalf("a refused break-glass ran the step: %v", e.sched.calls)
	}
	e.wf.cfg.BreakGlass = []string{"Alice@example.org"}
	e.clock.Advance(time.Minute)
	e.handle(e.signed("Alice <alice@example.org>", e.keys["alice@example.org"], subj, "/publish-now exploit in the wild\n/break-glass nobody else reachable", e.clock.Now().Add(-time.Second)))
	if len(e.sched.calls) != 1 {
		t.Fatalf("break glass did not run the step: %v", e.sched.calls)
	}
	for _, m := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		lastContains(t, "told "+m, e.mailsTo(m, MailApproval), "Reason: nobody else reachable")
	}
}

// TestIrreversible: the steps the two-person rule holds, and those it
// does not.
func TestIrreversible(t *testing.T) {
	t0 := time.Date(2026, 12, 20, 16, 0, 0, 0, time.UTC)
	p := Parser{}
	for _, tt := range []struct {
		line string
		want string
	}{
		{"/publish-now leaked", "publish now"},
		{"/disclose 2026-12-22 16:00 UTC force: the reporter insists", "a plan forced against the policy"},
		{"/disclose 2026-12-22 16:00 UTC no-embargo", "a disclosure without embargo"},
		{"/disclose 2026-12-18 16:00 UTC", "the disclosure moved earlier"},
		{"/disclose 2026-12-22 16:00 UTC", ""},
		{"/notify force: customers first", "a notice forced against the policy"},
		{"/notify", ""},
		{"/list approve APP-2026-0001", "a distributor approved onto a list"},
		{"/list deny APP-2026-0001 no track record", ""},
		{"/close invalid not a bug", "the case closed as invalid"},
		{"/status wontfix", "the case closed as wontfix"},
		{"/close opinion", ""},
		{"/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ""},
	} {
		parsed, err := p.Parse(tt.line)
		if err != nil || len(parsed.Commands) != 1 {
			t.Fatalf("%s: %v", tt.line, err)
		}
		s := &session{c: &Case{DiscloseAt: t0}}
		if got := s.irreversible(&parsed.Commands[0]); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.line, got, tt.want)
		}
	}
}
