package schedule

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/templates"
)

// seedWalk follows the steps of one of the process documents the presets
// implement (the seeds), in the order the document lists them, over the
// outbox of a harness env. Each step quotes the document and names the
// mail it sends as sentMail.String() gives it: the time, the kind, signed
// or encrypted, and the audience. A step claims its mail among the mail
// no step claimed yet; its mail may not be earlier than the mail of the
// steps before it; and once it has claimed its own, no earlier mail may be
// left unclaimed: the seed's steps account for every mail, in order. A
// step with no mail asserts that nothing went out since the step before.
type seedWalk struct {
	t       *testing.T
	e       *env
	claimed map[int]bool
	last    time.Time // of the latest mail claimed so far
}

func newSeedWalk(t *testing.T, e *env) *seedWalk {
	return &seedWalk{t: t, e: e, claimed: map[int]bool{}}
}

// step claims the mail of one step of the seed and returns it, in the
// order of want.
func (w *seedWalk) step(seed string, want ...string) []sentMail {
	w.t.Helper()
	ms := w.e.mails()
	var got []sentMail
	latest := w.last
	for _, line := range want {
		found := -1
		for i, m := range ms {
			if !w.claimed[i] && m.String() == line {
				found = i
				break
			}
		}
		if found < 0 {
			w.t.Errorf("step %s:\n  no mail %q; unclaimed:%s", seed, line, w.unclaimed(ms))
			continue
		}
		w.claimed[found] = true
		m := ms[found]
		if m.At.Before(w.last) {
			w.t.Errorf("step %s:\n  %q comes before the steps listed before it (%s)", seed, line, w.last.UTC().Format(layoutUTC))
		}
		if m.At.After(latest) {
			latest = m.At
		}
		got = append(got, m)
	}
	// Mail of the same time as this step's may be the next step's (the
	// embargo notice and the pre-announcement go out together); earlier
	// mail, or any mail after a step that sends none, is no step's.
	before := latest
	if len(want) == 0 {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var rest []string
	for i, m := range ms {
		if !w.claimed[i] && m.At.Before(before) {
			rest = append(rest, "\n    "+m.String()+" | "+m.Subject)
			w.claimed[i] = true // told once
		}
	}
	if len(rest) > 0 {
		w.t.Errorf("step %s:\n  mail no step of the seed accounts for:%s", seed, strings.Join(rest, ""))
	}
	w.last = latest
	return got
}

func (w *seedWalk) unclaimed(ms []sentMail) string {
	var b strings.Builder
	for i, m := range ms {
		if !w.claimed[i] {
			b.WriteString("\n    " + m.String() + " | " + m.Subject)
		}
	}
	return b.String()
}

// until runs the scheduler to at, as serve's loops do: every job due by
// then at its time, then the check of the policy's deadlines.
func (w *seedWalk) until(at string) {
	w.t.Helper()
	w.e.advance(utc(at))
	if _, err := w.e.s.CheckSLA(w.e.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// draft renders text name for case c as /draft gives it to the lead:
// nothing is sent.
func (e *env) draft(c *cases.Case, name string) (subject, body string) {
	e.t.Helper()
	if err := e.tx(func(tx *sql.Tx) error {
		var err error
		subject, body, err = e.s.Draft(e.ctx, tx, c, name, cases.DraftOptions{Actor: templates.Person{Name: e.lead.Name, Address: e.lead.Address}})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return subject, body
}

// consent records the reporter's agreement to the plan of c that waits
// for it, as their signed /agree does through the case workflow.
func (e *env) consent(c *cases.Case) string {
	e.t.Helper()
	var text string
	if err := e.tx(func(tx *sql.Tx) error {
		var err error
		text, err = e.s.Consent(e.ctx, tx, c, "agreed by a mail signed with the reporter's key", "reporter:"+c.ReporterAddr)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return text
}

// publishNow ends the embargo of c at once, as /publish-now does.
func (e *env) publishNow(c *cases.Case, reason string) {
	e.t.Helper()
	if err := e.tx(func(tx *sql.Tx) error { return e.s.PublishNow(e.ctx, tx, c, reason, e.lead.Fingerprint) }); err != nil {
		e.t.Fatal(err)
	}
}
