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

// TestNotifyListRefused: a member who is not the fix lead nor of role lead
// cannot widen a case's audience; the scheduler never hears of it.
func TestNotifyListRefused(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	before := len(e.sched.calls)
	e.clock.Advance(time.Minute)
	e.handle(e.signed("bob@example.org", e.keys["bob@example.org"], "["+c.Ref+"]", "/notify distros", e.clock.Now()))
	a := e.mailsTo("bob@example.org", MailAnswer)
	if len(a) == 0 || !strings.Contains(a[len(a)-1], "NOT applied") {
		t.Fatalf("bob's /notify distros: answers %q", a)
	}
	if slices.ContainsFunc(e.sched.calls[before:], func(s string) bool { return strings.HasPrefix(s, "notify") }) {
		t.Errorf("the scheduler was called: %q", e.sched.calls[before:])
	}
}

// FuzzParseNotify: whatever follows /notify, the parser returns a list
// name a directory lookup can take as it is (no space, no path, no
// control character) and a reason only after "force:", or refuses.
func FuzzParseNotify(f *testing.F) {
	for _, s := range []string{"", "distros", "distros force: asked", "force: asked", "a b", "../x", "dist\x00ros", "x force:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		list, force, err := parseNotify(rest)
		if err != nil {
			return
		}
		if list != "" && !listNameRE.MatchString(list) {
			t.Errorf("%q: list %q", rest, list)
		}
		if force != "" && !strings.Contains(rest, "force:") {
			t.Errorf("%q: force %q without force:", rest, force)
		}
		if list == "" && strings.TrimSpace(strings.SplitN(rest, "force:", 2)[0]) != "" {
			t.Errorf("%q: words before force: dropped", rest)
		}
	})
}
