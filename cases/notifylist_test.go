package cases

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNotifyList: "/notify LIST" from the lead reaches the scheduler with
// the list and the reason to force, and the answer says what happens to
// the list; "/notify" alone keeps its meaning.
func TestNotifyList(t *testing.T) {
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
	send("/status confirmed\n/class A")
	for _, tc := range []struct{ cmd, call, answer string }{
		{"/notify distros force: they ship it", `notify ` + c.Ref + ` "they ship it" list distros`, "embargo list distros added to the case"},
		{"/notify", `notify ` + c.Ref + ` ""`, "embargo notice queued to the distributors"},
	} {
		before := len(e.sched.calls)
		a := send(tc.cmd)
		if !slices.Contains(e.sched.calls[before:], tc.call) {
			t.Errorf("%s: calls %q, want %q", tc.cmd, e.sched.calls[before:], tc.call)
		}
		if !strings.Contains(a, tc.answer) || strings.Contains(a, "NOT applied") {
			t.Errorf("%s: answer\n%s", tc.cmd, a)
		}
		if strings.Contains(tc.cmd, "distros") && !strings.Contains(a, "distros: told now") {
			t.Errorf("%s: the answer does not say what happens to the list:\n%s", tc.cmd, a)
		}
	}
}
