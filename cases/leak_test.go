package cases

import (
	"strings"
	"testing"
	"time"
)

// TestLeak: any member's signed /leak WHO: WHAT is recorded on the case,
// sealed at rest; the audit log (in clear) says only that a leak was
// recorded; every member is told, encrypted, and asked whether to
// /publish-now; Leaks reads it back. A /leak without a colon is refused
// and records nothing.
func TestLeak(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	subj := "Re: [" + c.Ref + "] New report"
	const who, what = "a blog post at vendor.example", "the patch LEAKED-PATCH-TEXT before the date"
	e.handle(e.signed("Bob <bob@example.org>", e.keys["bob@example.org"], subj, "/leak "+who+": "+what, e.clock.Now().Add(-time.Minute)))
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "leak recorded: "+who)
	for _, m := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		told := e.mailsTo(m, MailLeak)
		lastContains(t, "leak mail to "+m, told, "LEAKED-PATCH-TEXT")
		lastContains(t, "leak mail to "+m, told, "/publish-now REASON")
	}
	var sealed []byte
	if err := e.db.Reader().QueryRow(`SELECT sealed FROM case_leak WHERE case_id = ?`, c.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "LEAKED") || strings.Contains(string(sealed), "vendor.example") {
		t.Error("the leak is stored in clear")
	}
	for _, line := range e.audit(c.ID) {
		if strings.Contains(line, "LEAKED") || strings.Contains(line, "vendor.example") {
			t.Errorf("the audit log carries the leak: %s", line)
		}
	}
	lastContains(t, "audit", e.audit(c.ID), "leak: leak recorded (its text is stored encrypted)")
	leaks, err := e.wf.Leaks(e.ctx, c.ID)
	if err != nil || len(leaks) != 1 || leaks[0].Who != who || leaks[0].What != what || leaks[0].Actor != e.member("bob@example.org").Fingerprint {
		t.Fatalf("leaks %+v %v", leaks, err)
	}

	e.clock.Advance(time.Minute)
	e.handle(e.signed("Bob <bob@example.org>", e.keys["bob@example.org"], subj, "/leak somebody leaked it", e.clock.Now().Add(-time.Minute)))
	lastContains(t, "answer", e.mailsTo("bob@example.org", MailAnswer), "write /leak WHO: WHAT")
	if n := e.count(`SELECT count(*) FROM case_leak`); n != 1 {
		t.Errorf("%d leaks after a refused /leak, want 1", n)
	}
}
