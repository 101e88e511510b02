package cases

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClassDecidesOutcome: each Kata class tells the lead what it leads to
// (an advisory, a security note, a note only if warranted, or the end of
// the case), and the commands it contradicts are refused with the reason.
func TestClassDecidesOutcome(t *testing.T) {
	const (
		advisory = "an advisory under the embargoed process"
		note     = "a security note, not an advisory"
		maybe    = "a security note only if the team decides one is warranted"
	)
	tests := []struct {
		class    string
		implies  string // in the answer to /class
		end      string // "/close STATE" proposed, "" if none
		disclose bool   // /disclose reaches the scheduler
		advisory bool   // /advisory is accepted
		notify   bool   // /notify reaches the scheduler
	}{
		{"A", advisory, "", true, true, true},
		{"B1", note, "", true, false, false},
		{"B2", note, "", true, false, false},
		{"B3", note, "", true, false, false},
		{"C1", maybe, "/close wontfix", true, false, false},
		{"C2", maybe, "/close wontfix", true, false, false},
		{"D", maybe, "/close wontfix", true, false, false},
		{"E", "nothing is published", "/close invalid", false, false, false},
		{"Y", "nothing is published", "/close wontfix", false, false, false},
		{"Z", "nothing is published", "/close invalid", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.class, func(t *testing.T) {
			e := newEnv(t)
			c := e.open(true)
			alice := e.keys["alice@example.org"]
			send := func(body string) string {
				t.Helper()
				e.clock.Advance(time.Minute)
				e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", body, e.clock.Now()))
				a := e.mailsTo("alice@example.org", MailAnswer)
				return a[len(a)-1]
			}
			a := send("/status confirmed\n/class " + strings.ToLower(tc.class))
			if got := e.get(c.ID).Class; got != tc.class {
				t.Fatalf("class %q, want %s; answer %q", got, tc.class, a)
			}
			if !strings.Contains(a, "class "+tc.class+" (") || !strings.Contains(a, tc.implies) {
				t.Errorf("answer to /class %s does not say %q:\n%s", tc.class, tc.implies, a)
			}
			if tc.end != "" && !strings.Contains(a, tc.end) {
				t.Errorf("answer to /class %s does not propose %q:\n%s", tc.class, tc.end, a)
			}

			for _, step := range []struct {
				cmd, refusal string
				ok           bool
				call         string
			}{
				{"/advisory KCSA-2026-001", "not an advisory", tc.advisory, ""},
				{"/disclose 2026-12-15 00:00 UTC", "publishes nothing", tc.disclose, "disclose " + c.Ref},
				{"/notify", map[bool]string{true: "publishes nothing", false: "no embargo notice"}[!tc.disclose], tc.notify, "notify " + c.Ref},
			} {
				before := len(e.sched.calls)
				a := send(step.cmd)
				refused := strings.Contains(a, "NOT applied")
				if refused == step.ok {
					t.Errorf("%s on a class %s case: refused %v, want %v:\n%s", step.cmd, tc.class, refused, !step.ok, a)
				}
				if !step.ok && !strings.Contains(a, step.refusal) {
					t.Errorf("%s on a class %s case: the refusal does not say %q:\n%s", step.cmd, tc.class, step.refusal, a)
				}
				called := slices.ContainsFunc(e.sched.calls[before:], func(s string) bool { return strings.HasPrefix(s, step.call) })
				if step.call != "" && called != step.ok {
					t.Errorf("%s on a class %s case: scheduler called %v, want %v (%q)", step.cmd, tc.class, called, step.ok, e.sched.calls)
				}
			}
		})
	}
}

// TestClassTable: the taxonomy has every class once, and each rule says
// what ends a case that publishes nothing.
func TestClassTable(t *testing.T) {
	want := []string{"A", "B1", "B2", "B3", "C1", "C2", "D", "E", "Y", "Z"}
	if !slices.Equal(Classes, want) {
		t.Errorf("Classes = %v, want %v", Classes, want)
	}
	for _, r := range classRules {
		if (r.Publishes == PublishNothing || r.Optional) && !terminal(r.End) {
			t.Errorf("class %s: ends as %q, which is not a final state", r.Class, r.End)
		}
		if got, ok := ClassRuleOf(strings.ToLower(r.Class)); !ok || got.Class != r.Class {
			t.Errorf("ClassRuleOf(%s) = %+v, %v", r.Class, got, ok)
		}
	}
	if (&Case{}).Publishes() != PublishAdvisory {
		t.Error("an unclassified case does not publish an advisory")
	}
}

// TestClassChangeWarns: a class that publishes something else than what a
// recorded advisory ID or a planned disclosure expects says so.
func TestClassChangeWarns(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/status confirmed\n/class A\n/advisory KCSA-2026-001\n/disclose 2026-12-15 00:00 UTC", t0))
	e.clock.Advance(time.Minute)
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/class B2", e.clock.Now()))
	a := e.mailsTo("alice@example.org", MailAnswer)
	for _, want := range []string{"the advisory ID KCSA-2026-001 stays recorded but nothing publishes it",
		"a disclosure is planned for 2026-12-15 00:00 UTC: at that time the gateway publishes a security note now, not an advisory"} {
		if !strings.Contains(a[len(a)-1], want) {
			t.Errorf("answer to /class B2 lacks %q:\n%s", want, a[len(a)-1])
		}
	}
}
