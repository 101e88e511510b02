package schedule

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
)

const distros = "sec@distro.example,sec@vendor1.example" // Vendor One is on both lists

// withDistros adds a "distros" embargo list with rules r to e (Vendor One
// is on it too) and, when policyNames, makes the knative policy name both
// lists; it returns a scheduler built that way.
func (e *env) withDistros(r distlist.Rules, policyNames bool) *Scheduler {
	e.t.Helper()
	created := e.clk.Now().Add(-365 * Day)
	e.dir.lists["distros"] = &distlist.List{Name: "distros", Kind: distlist.KindEmbargo, Encrypt: true, Rules: r, Recipients: []distlist.Recipient{
		{Name: "Distro", Address: "sec@distro.example", Key: testKey(e.t, "Distro", "sec@distro.example", created, 0)},
		e.dir.lists["embargo"].Recipients[0],
	}}
	var changes []func(*Config)
	if policyNames {
		changes = append(changes, func(c *Config) {
			o := c.Policies["knative"]
			o.Audiences = &[]string{"embargo", "distros"}
			c.Policies["knative"] = o
		})
	}
	return e.newScheduler("knative", changes...)
}

func (e *env) notifyList(c *cases.Case, list, force string) (string, error) {
	var text string
	err := e.tx(func(tx *sql.Tx) error {
		var err error
		text, err = e.s.NotifyList(e.ctx, tx, c, list, force, e.lead.Fingerprint)
		return err
	})
	return text, err
}

// vs is the distros list of issue #18: a linux-distros style list that
// accepts at most 14 days and tags its subjects [vs].
var vs = distlist.Rules{MaxEmbargo: 14 * Day, SubjectTag: "[vs]"}

// TestAudiencesEachAtItsTime plans a 21-day knative embargo for two lists:
// the embargo list is told at once, the 14-day list 14 days before T0 and
// never earlier, each with its own pre-release notice, subject tag and
// calendar (same UID, same SEQUENCE). A distributor on both lists gets each
// list's notices.
func TestAudiencesEachAtItsTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules distlist.Rules
		want  []string
		notes []string
	}{
		{"max_embargo 14 days", vs, []string{
			"2026-12-01 10:00 embargo-notice encrypted to " + vendors,
			"2026-12-08 10:00 embargo-notice encrypted to " + distros,
			"2026-12-21 10:00 prerelease-notice encrypted to " + vendors,
			"2026-12-21 10:00 prerelease-notice encrypted to " + distros,
			"2026-12-22 10:00 announcement signed to " + public,
		}, []string{"distros: not told now: the embargo of 21 days is longer than its 14 days; it is told 14 days before disclosure, 2026-12-08 10:00 UTC",
			"its rules allow at most 14 days, less than the policy's minimum of 21 days: the list's rule prevails", "subjects tagged [vs]"}},
		{"notice_before 7 days, no pre-release notice", distlist.Rules{MaxEmbargo: 14 * Day, NoticeBefore: 7 * Day, NoPreRelease: true, SubjectTag: "[vs]"}, []string{
			"2026-12-01 10:00 embargo-notice encrypted to " + vendors,
			"2026-12-15 10:00 embargo-notice encrypted to " + distros,
			"2026-12-21 10:00 prerelease-notice encrypted to " + vendors,
			"2026-12-22 10:00 announcement signed to " + public,
		}, []string{"distros: not told now: the embargo of 21 days is longer than its 14 days; it is told 7 days before disclosure, 2026-12-15 10:00 UTC",
			"no pre-release notice (its rule)"}},
		{"no rules", distlist.Rules{}, []string{
			"2026-12-01 10:00 embargo-notice encrypted to " + vendors,
			"2026-12-01 10:00 embargo-notice encrypted to " + distros,
			"2026-12-21 10:00 prerelease-notice encrypted to " + vendors,
			"2026-12-21 10:00 prerelease-notice encrypted to " + distros,
			"2026-12-22 10:00 announcement signed to " + public,
		}, []string{"embargo: told now", "distros: told now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, utc("2026-12-01 10:00"), "knative")
			e.s = e.withDistros(tc.rules, true)
			c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
			t0 := utc("2026-12-22 10:00")
			plan, err := e.disclose(c, t0, "")
			if err != nil {
				t.Fatal(err)
			}
			containsAll(t, "plan", plan, append([]string{"embargo notice to embargo (now)", "embargo notice to distros", "Lists:"}, tc.notes...)...)
			if tc.rules == vs {
				golden(t, "plan-two-lists", plan) // the lead's answer as it reads
			}
			// Never earlier than its rules allow: nothing went to distros yet.
			for _, m := range e.mails() {
				if strings.Contains(strings.Join(m.Recipients, ","), "distro.example") && tc.rules.MaxEmbargo > 0 {
					t.Errorf("distros told at %v, before its 14 days", m.At)
				}
			}
			e.advance(t0)
			ms := e.checkMails(tc.want...)
			uid := ""
			for _, m := range ms {
				if m.Kind == MailAnnouncement {
					continue
				}
				toDistros := strings.Contains(strings.Join(m.Recipients, ","), "distro.example")
				if tagged := strings.HasPrefix(m.Subject, tc.rules.SubjectTag+" "); toDistros && tc.rules.SubjectTag != "" && !tagged ||
					!toDistros && strings.HasPrefix(m.Subject, "[vs]") {
					t.Errorf("%s: subject %q", m, m.Subject)
				}
				cal, method, ok := calendarOf(t, m.Entity)
				if !ok || method != "PUBLISH" || cal.Method != "PUBLISH" || cal.seq() != 1 || cal.Event["DTSTART"] != "20261222T100000Z" {
					t.Errorf("%s: calendar %v %s %+v", m, ok, method, cal)
				}
				if uid == "" {
					uid = cal.Event["UID"]
				} else if cal.Event["UID"] != uid {
					t.Errorf("%s: UID %s, want %s as on every list", m, cal.Event["UID"], uid)
				}
			}
		})
	}
}

// TestAudienceRequireCVE: a list that requires a CVE ID refuses the plan
// of a case without one, naming the list, and /notify of it too; a policy
// without that list plans the same case.
func TestAudienceRequireCVE(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(distlist.Rules{RequireCVE: true}, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	c.CVE = ""
	e.cases.put(c)
	t0 := utc("2026-12-22 10:00")
	_, err := e.disclose(c, t0, "")
	var re *ReadinessError
	if !errors.As(err, &re) || re.Forceable || !strings.Contains(err.Error(), `distros: no CVE ID (/cve): list "distros" is told only of a vulnerability that has one`) ||
		strings.Contains(err.Error(), "embargo: no CVE") {
		t.Fatalf("a plan without the CVE ID distros requires: %v", err)
	}
	if n := len(e.mails()); n != 0 {
		t.Fatalf("a refused plan sent %d mails", n)
	}
	// The embargo list alone does not require it.
	e.s = e.withDistros(distlist.Rules{RequireCVE: true}, false)
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.notifyList(c, "distros", "it is urgent"); !errors.As(err, &re) || !strings.Contains(err.Error(), "no CVE ID") {
		t.Errorf("/notify distros without a CVE ID, forced: %v", err)
	}
	c.CVE = "CVE-2026-12341"
	e.cases.put(c)
	if _, err := e.notifyList(c, "distros", ""); err != nil {
		t.Fatal(err)
	}
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-01 10:00 embargo-notice encrypted to "+distros,
	)
}

// TestNotifyListMidEmbargo adds a list to a running embargo: told now when
// its rules accept the embargo left (forced when that is shorter than the
// policy's minimum), or at the earliest time they do; refused for a list
// that is no embargo list, and never sent earlier, even forced.
func TestNotifyListMidEmbargo(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, false)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Lists:") {
		t.Errorf("one list, no rules: the plan is shown as before:\n%s", plan)
	}
	for _, tc := range []struct{ list, want string }{
		{"announce", `list "announce" is a list of kind public, not an embargo list`},
		{"nosuch", `no list "nosuch"`},
	} {
		if _, err := e.notifyList(c, tc.list, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("/notify %s: %v", tc.list, err)
		}
	}
	// 20 days left: more than distros accepts; forced or not, it waits.
	e.advance(utc("2026-12-02 10:00"))
	text, err := e.notifyList(c, "distros", "the distros asked")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "answer", text, "distros: not told now: the embargo of 20 days is longer than its 14 days; it is told 14 days before disclosure, 2026-12-08 10:00 UTC")
	e.advance(utc("2026-12-08 09:59"))
	if n := len(e.mails()); n != 1 {
		t.Fatalf("%d mails before distros' time, want the embargo list's alone", n)
	}
	e.advance(t0.Add(-Day))
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-08 10:00 embargo-notice encrypted to "+distros,
		"2026-12-21 10:00 prerelease-notice encrypted to "+vendors,
		"2026-12-21 10:00 prerelease-notice encrypted to "+distros,
	)

	// A second case: distros added with 11 days left, less than its own
	// 14 days and the policy's 21: the policy's minimum needs force.
	e2 := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e2.s = e2.withDistros(vs, false)
	c2 := e2.newCase(2, "knative", utc("2026-11-28 08:00"))
	if _, err := e2.disclose(c2, t0, ""); err != nil {
		t.Fatal(err)
	}
	e2.advance(utc("2026-12-11 10:00"))
	var pe *PolicyError
	if _, err := e2.notifyList(c2, "distros", ""); !errors.As(err, &pe) || !strings.Contains(err.Error(), "at least 14 days before disclosure, this gives 11 days") {
		t.Fatalf("/notify distros with 11 days left: %v", err)
	}
	if _, err := e2.notifyList(c2, "distros", "found late that they ship it"); err != nil {
		t.Fatal(err)
	}
	e2.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-11 10:00 embargo-notice encrypted to "+distros,
	)
	var audited bool
	for _, ev := range e2.events(c2.ID) {
		audited = audited || ev.A == "notify" && strings.Contains(ev.B, "added list distros") && strings.Contains(ev.B, "forced (found late that they ship it)")
	}
	if !audited {
		t.Error("the forced /notify distros is not in the audit log")
	}
}

// TestAudiencesReplanAndCancel moves T0 once both lists were told: each
// gets a change notice whose calendar has the same UID and a higher
// SEQUENCE; a move that stretches distros' embargo beyond its 14 days is
// refused, naming the list, unless forced; publish-now tells both lists, with the
// cancellation of the event, SEQUENCE higher again.
func TestAudiencesReplanAndCancel(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-09 10:00"))
	// Later by two days: distros would have 16 days.
	_, err := e.disclose(c, t0.Add(2*Day), "")
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "distros: the embargo may last at most 14 days, this gives 16 days") {
		t.Fatalf("a re-plan beyond distros' 14 days: %v", err)
	}
	t1 := t0.Add(2 * Day)
	if _, err := e.disclose(c, t1, "the fix slipped"); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-10 10:00"))
	if err := e.tx(func(tx *sql.Tx) error {
		return e.s.PublishNow(e.ctx, tx, c, "exploit posted on a public forum", e.lead.Fingerprint)
	}); err != nil {
		t.Fatal(err)
	}
	ms := e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-08 10:00 embargo-notice encrypted to "+distros,
		"2026-12-09 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-09 10:00 embargo-notice encrypted to "+distros,
		"2026-12-10 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-10 10:00 embargo-notice encrypted to "+distros,
		"2026-12-10 10:00 announcement signed to "+public,
	)
	if len(ms) != 7 {
		return
	}
	for i, want := range []struct {
		method, start string
		seq           int
		subject       string
	}{
		{"PUBLISH", "20261222T100000Z", 1, "EMBARGOED"},
		{"PUBLISH", "20261222T100000Z", 1, "[vs] [SEC-2026-0001] EMBARGOED"},
		{"PUBLISH", "20261224T100000Z", 2, "EMBARGOED"},
		{"PUBLISH", "20261224T100000Z", 2, "[vs] [SEC-2026-0001] EMBARGOED"},
		{"CANCEL", "20261224T100000Z", 3, "EMBARGO LIFTED"},
		{"CANCEL", "20261224T100000Z", 3, "[vs] [SEC-2026-0001] EMBARGO LIFTED"},
	} {
		cal, method, ok := calendarOf(t, ms[i].Entity)
		if !ok || method != want.method || cal.Method != want.method || cal.Event["DTSTART"] != want.start || cal.seq() != want.seq ||
			cal.Event["UID"] != "SEC-2026-0001-disclosure@secgate" || !strings.Contains(ms[i].Subject, want.subject) ||
			strings.HasPrefix(ms[i].Subject, "[vs] ") != strings.HasPrefix(want.subject, "[vs] ") {
			t.Errorf("mail %d (%s, %q): calendar %v %s %+v, want %+v", i, ms[i], ms[i].Subject, ok, method, cal, want)
		}
	}
}

// TestAudienceWithdrawn: a withdrawn case cancels the event for every
// list that was told, and nothing goes to a list that was not.
func TestAudienceWithdrawn(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	if _, err := e.disclose(c, utc("2026-12-22 10:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-02 10:00"))
	c.State = cases.StateInvalid
	e.cases.put(c)
	if err := e.tx(func(tx *sql.Tx) error {
		return e.s.Withdraw(e.ctx, tx, c, "not a vulnerability after all", e.lead.Fingerprint)
	}); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2027-01-31 00:00"))
	ms := e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-02 10:00 embargo-notice encrypted to "+vendors,
	)
	if len(ms) == 2 {
		cal, method, ok := calendarOf(t, ms[1].Entity)
		if !ok || method != "CANCEL" || cal.Event["STATUS"] != "CANCELLED" || cal.seq() <= 1 || cal.Event["DTSTART"] != "20261222T100000Z" {
			t.Errorf("withdrawal calendar: %v %s %+v", ok, method, cal)
		}
	}
}

// TestAudienceGuardAtRunTime: a list whose rules tightened after the plan
// is still never told earlier than they allow: its notice moves.
func TestAudienceGuardAtRunTime(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	if _, err := e.disclose(c, utc("2026-12-22 10:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.dir.lists["distros"].Rules.MaxEmbargo = 7 * Day
	e.advance(utc("2026-12-20 10:00"))
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-15 10:00 embargo-notice encrypted to "+distros,
	)
	var moved bool
	for _, ev := range e.events(c.ID) {
		moved = moved || strings.Contains(ev.B, "list distros accepts an embargo of at most 7 days: its notice moved to 2026-12-15 10:00 UTC")
	}
	if !moved {
		t.Errorf("the moved notice is not in the audit log: %+v", e.events(c.ID))
	}
}

// TestAudiencesAcrossRestart: the lists' jobs are durable: a gateway
// restarted between the plan and distros' time (a new scheduler on the
// same database) tells distros at its time, once, and the case's steps
// name the list of each notice.
func TestAudiencesAcrossRestart(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	e.s = e.withDistros(vs, true) // restarted
	e.clk.Set(utc("2026-12-09 10:00"))
	for range 2 {
		if _, err := e.s.RunDue(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-09 10:00 embargo-notice encrypted to "+distros,
	)
	steps, err := e.s.Steps(e.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range steps {
		if st.Kind == JobEmbargoNotice || st.Kind == JobPreReleaseNotice {
			got = append(got, st.What+" "+strings.Join(st.Audience, ",")+" "+st.State)
		}
	}
	want := []string{"embargo notice embargo done", "embargo notice distros done", "pre-release notice (1 day before T0) embargo planned", "pre-release notice (1 day before T0) distros planned"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAudienceHeldWithoutCVE: a list that requires a CVE ID is not told
// when, at its time, the case has none (the ID was withdrawn since the
// plan): the lead is told why, and the list gets no pre-release notice of
// an embargo it never heard of.
func TestAudienceHeldWithoutCVE(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(distlist.Rules{MaxEmbargo: 14 * Day, RequireCVE: true}, true)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	c.CVE = ""
	e.cases.put(c)
	e.advance(t0.Add(-time.Hour))
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-21 10:00 prerelease-notice encrypted to "+vendors,
	)
	var alerted, skipped bool
	for _, ev := range e.events(c.ID) {
		alerted = alerted || ev.Kind == "alert" && strings.Contains(ev.A, "HELD: embargo notice to distros needs a CVE ID") && strings.Contains(ev.B, "/notify distros")
		skipped = skipped || ev.A == "prerelease-notice-skipped" && strings.Contains(ev.B, "list distros was not told of the embargo")
	}
	if !alerted || !skipped {
		t.Errorf("lead alerted %v, pre-release notice skipped %v: %+v", alerted, skipped, e.events(c.ID))
	}
}

// TestAudienceLegacyPlan: a plan whose embargo list was told before there
// were several lists (the migration records it as list ”) keeps that list
// told once another list joins: a re-plan sends it a change notice, not a
// new embargo notice, and publish-now tells both lists.
func TestAudienceLegacyPlan(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(vs, false)
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	// What the migration leaves of a plan told before this table.
	if _, err := e.db.Writer().ExecContext(e.ctx, `UPDATE schedule_audience SET list = '' WHERE list = 'embargo'`); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-09 10:00"))
	if _, err := e.notifyList(c, "distros", "they ship it"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.disclose(c, t0.Add(-Day), "the fix is ready early"); err != nil {
		t.Fatal(err)
	}
	if err := e.tx(func(tx *sql.Tx) error { return e.s.PublishNow(e.ctx, tx, c, "leaked", e.lead.Fingerprint) }); err != nil {
		t.Fatal(err)
	}
	ms := e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-09 10:00 embargo-notice encrypted to "+distros,
		"2026-12-09 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-09 10:00 embargo-notice encrypted to "+distros,
		"2026-12-09 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-09 10:00 embargo-notice encrypted to "+distros,
		"2026-12-09 10:00 announcement signed to "+public,
	)
	for i, want := range []string{"", "", "new disclosure date", "new disclosure date", "EMBARGO LIFTED", "EMBARGO LIFTED"} {
		if i < len(ms) && !strings.Contains(ms[i].Subject, want) {
			t.Errorf("mail %d: %q, want %q", i, ms[i].Subject, want)
		}
	}
}

// TestAudienceKeysPerList: a distributor of one list whose key lapses
// before T0 refuses the plan, naming the list; force plans it, and that
// distributor is skipped while the others get their notice.
func TestAudienceKeysPerList(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 10:00"), "knative")
	e.s = e.withDistros(distlist.Rules{}, true)
	lapsing := testKey(t, "Short", "short@distro.example", utc("2026-11-01 10:00"), 40*Day)
	e.dir.lists["distros"].Recipients = append(e.dir.lists["distros"].Recipients, distlist.Recipient{Name: "Short", Address: "short@distro.example", Key: lapsing})
	c := e.newCase(1, "knative", utc("2026-11-28 08:00"))
	t0 := utc("2026-12-22 10:00")
	_, err := e.disclose(c, t0, "")
	var re *ReadinessError
	if !errors.As(err, &re) || !re.Forceable || !strings.Contains(err.Error(), "distros: short@distro.example: key") {
		t.Fatalf("a lapsing key on distros: %v", err)
	}
	if _, err := e.disclose(c, t0, "their new key is on its way"); err != nil {
		t.Fatal(err)
	}
	e.checkMails(
		"2026-12-01 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-01 10:00 embargo-notice encrypted to "+distros,
	)
}
