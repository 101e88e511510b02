package cases

import (
	"testing"
	"time"
)

// FuzzHandleCommandMail runs arbitrary signed text through the whole
// pipeline (parse, authorise, apply, answer) on one case: the gateway never
// fails or panics, the case stays in a known state and the audit chain
// holds. One case takes every input in turn.
func FuzzHandleCommandMail(f *testing.F) {
	for _, s := range []string{
		"/status confirmed\n/class A\nok",
		"/impact x\n/status triaged\n/status cve-requested",
		"/lead offer @bob\n/lead accept\n/lead take\n/lead release",
		"/team add @carol\n/team remove @alice",
		"/credit consent yes\n/credit none\n/reply hi\n/note n",
		"/disclose 2026-12-15 16:00 UTC force: x\n/notify\n/publish-now leaked",
		"/notify distros force: they ship it\n/notify ../x\n/notify a b",
		"/list add embargo a@b.example\n/list remove embargo a@b.example",
		"/close wontfix\n/close",
		"/case SEC-2026-0001\n/log\n/help",
		"/list approve APP-2026-0001\n/list deny APP-2026-0001 no\n/list suspend a@b.example x\n/list reinstate a@b.example",
		"/leak someone: the patch\n/leak nobody",
	} {
		f.Add(s)
	}
	e := newEnv(f)
	e.open(true)
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		e.clock.Advance(time.Second)
		alice := e.keys["alice@example.org"]
		m := e.signed("alice@example.org", alice, "[SEC-2026-0001]", body, e.clock.Now())
		if err := e.wf.HandleCommandMail(e.ctx, m); err != nil {
			t.Fatalf("HandleCommandMail: %v", err)
		}
		c, err := e.wf.Get(e.ctx, "SEC-2026-0001")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := transitions[c.State]; !ok {
			t.Fatalf("unknown state %q", c.State)
		}
		if err := e.wf.VerifyAudit(e.ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	})
}
