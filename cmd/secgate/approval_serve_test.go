package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeTwoPersonRule runs the two-person rule through secgate serve
// on the real stack ([cases] approvals = 2): a lead's signed /close invalid
// does not close the case but waits; the same lead's own /approve does
// nothing; the other member's signed /approve closes it, once.
func TestServeTwoPersonRule(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	e := startHostileWith(t, "\n[cases]\napprovals = 2\n", "KN", "KATA", []hostileMember{{"alice", []string{"knative"}}, {"carol", []string{"knative", "kata"}}})
	kn := e.kn
	ref := e.report(kn)
	state := func() string {
		var s string
		e.query(kn, `SELECT state FROM cases WHERE ref = ?`, ref).Scan(&s)
		return s
	}
	pending := func() (approval, author, st string) {
		e.query(kn, `SELECT ref, author, state FROM case_approval ORDER BY created DESC LIMIT 1`).Scan(&approval, &author, &st)
		return
	}

	id := e.command("alice", kn, "["+ref+"] not a bug", "/case "+ref+"\n/close invalid not reproducible\n")
	e.waitInbound(kn, id)
	approval, author, st := pending()
	if !regexp.MustCompile(`^AP-[A-Z2-9]{6}$`).MatchString(approval) || author != e.keys["alice"].Fingerprint() || st != "pending" {
		t.Fatalf("alice's /close invalid: approval %q by %s, %s", approval, author, st)
	}
	if s := state(); s == "invalid" {
		t.Fatal("the case closed on one member's word")
	}

	id = e.command("alice", kn, "["+ref+"] approve", "/approve "+approval+"\n")
	e.waitInbound(kn, id)
	if _, _, st := pending(); st != "pending" || state() == "invalid" {
		t.Fatalf("alice approved her own step: %s, case %s", st, state())
	}

	id = e.command("carol", kn, "["+ref+"] approve", "/approve "+approval+"\n")
	e.waitInbound(kn, id)
	if _, _, st := pending(); st != "approved" || state() != "invalid" {
		t.Fatalf("after carol's approval: %s, case %s", st, state())
	}
	var audit string
	e.query(kn, `SELECT group_concat(action || ' ' || detail, char(10)) FROM case_audit WHERE case_id = (SELECT id FROM cases WHERE ref = ?)`, ref).Scan(&audit)
	for _, want := range []string{"waits for a second member: /approve " + approval, "approved " + approval, "state new -> invalid"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	time.Sleep(time.Second) // the answers
}
