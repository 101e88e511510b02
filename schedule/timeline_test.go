package schedule

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/templates"
)

func containsAll(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestKnativeTimeline runs a three-week embargo: embargo notice at once,
// pre-release notice 24 hours before, announcement at T0, retrospective
// reminder one day after, artifacts written and valid.
func TestKnativeTimeline(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	e.wholePreset = true // the whole preset
	e.s = e.newScheduler("knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	t0 := utc("2026-12-11 16:00") // 21 days 6.5 hours later
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "2026-11-20 09:30 UTC", "2026-12-10 16:00 UTC", "2026-12-11 16:00 UTC",
		"2026-12-11 17:00 CET", "Europe/Berlin", "retrospective")
	if !c.DiscloseAt.Equal(t0) {
		t.Errorf("DiscloseAt %v", c.DiscloseAt)
	}
	if tl, pub, ok, err := e.s.CurrentPlan(e.ctx, 1); err != nil || !ok || !tl.T0.Equal(t0) || !tl.Notified || !pub.IsZero() {
		t.Errorf("CurrentPlan = %+v %v %v %v", tl, pub, ok, err)
	}
	e.advance(t0.Add(5 * Day))
	if _, pub, _, _ := e.s.CurrentPlan(e.ctx, 1); !pub.Equal(t0) {
		t.Errorf("published %v", pub)
	}
	ms := e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-20 09:30 pre-announcement signed to "+public,
		"2026-12-10 16:00 prerelease-notice encrypted to "+vendors,
		"2026-12-11 16:00 announcement signed to "+public,
		"2026-12-11 16:00 announcement encrypted to "+vendors,
		"2026-12-12 16:00 reminder encrypted to alice@team.example",
		"2026-12-14 16:00 reminder encrypted to alice@team.example",
	)
	if len(ms) == 7 {
		containsAll(t, "closing reminder", ms[6].Subject, "Retrospective window closes 2026-12-14")
		// The embargo list hears the release as it happens, encrypted,
		// in the same words as the public.
		if ms[4].Subject != ms[3].Subject || ms[4].ValidUntil != (time.Time{}) {
			t.Errorf("announcement to the embargo list: %q valid through %v, public %q", ms[4].Subject, ms[4].ValidUntil, ms[3].Subject)
		}
		// The public learns when and how severe, never what.
		pre := ms[1]
		containsAll(t, "pre-announcement", pre.Subject, "security release planned for 2026-12-11 16:00 UTC")
		containsAll(t, "pre-announcement", pre.Entity, "Its severity is CRITICAL.")
		for _, secret := range []string{"CVE-2026", c.Impact, c.Affected, "SEC-2026-0001"} {
			if strings.Contains(pre.Subject+pre.Entity, secret) {
				t.Errorf("the pre-announcement shows %q", secret)
			}
		}
		ms = append(ms[:1], ms[2:]...)
		if !ms[0].ValidUntil.Equal(t0) || !ms[1].ValidUntil.Equal(t0) {
			t.Errorf("notices must require keys valid through T0: %v %v", ms[0].ValidUntil, ms[1].ValidUntil)
		}
		containsAll(t, "embargo notice", ms[0].Entity, "multipart/mixed", "text/calendar", "disclosure-SEC-2026-0001.ics")
		containsAll(t, "embargo notice subject", ms[0].Subject, "EMBARGOED", "CVE-2026-12341")
		containsAll(t, "pre-release subject", ms[1].Subject, "public release on 2026-12-11 16:00 UTC")
		containsAll(t, "announcement subject", ms[2].Subject, "[SECURITY]", "CVE-2026-12341")
		if strings.Contains(ms[2].Entity, "text/calendar") {
			t.Error("the announcement carries a calendar file")
		}
	}
	got, _ := e.cases.get(1)
	if got.State != cases.StateFixReleased {
		t.Errorf("state %s, want fix-released", got.State)
	}
	for _, f := range []string{"EXSA-2026-001.md", "EXSA-2026-001.osv.json", "CVE-2026-12341.json"} {
		if _, err := os.Stat(filepath.Join(e.artifacts, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	cve, _ := os.ReadFile(filepath.Join(e.artifacts, "CVE-2026-12341.json"))
	validate(t, compileSchema(t, "CVE_Record_Format_bundled.json"), "CVE record", cve)
	osv, _ := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.osv.json"))
	validate(t, compileSchema(t, "osv-schema.json"), "OSV record", osv)
	// Nothing else ever goes out.
	e.advance(t0.Add(60 * Day))
	if n := len(e.mails()); n != 7 {
		t.Errorf("%d mails after the timeline ended", n)
	}
}

// TestKataTimeline: 3 business days across a weekend, at 0000 UTC, on a
// day that is not Monday or Friday.
func TestKataTimeline(t *testing.T) {
	now := utc("2026-12-03 10:00") // Thursday
	e := newEnv(t, now, "kata")
	c := e.newCase(1, "kata", utc("2026-11-30 08:00"))
	for _, bad := range []struct{ t0, why string }{
		{"2026-12-08 00:00", "at least 3 business days"}, // Tuesday: only Fri, Mon
		{"2026-12-11 00:00", "Friday"},
		{"2026-12-09 16:00", "00:00 UTC"},
		{"2026-12-14 00:00", "Monday"},
	} {
		if _, err := e.disclose(c, utc(bad.t0), ""); err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("T0 %s: %v, want a refusal mentioning %q", bad.t0, err, bad.why)
		}
	}
	if n := len(e.mails()); n != 0 {
		t.Fatalf("refused plans sent %d mails", n)
	}
	t0 := utc("2026-12-09 00:00") // Wednesday: Fri, Mon, Tue
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	e.advance(t0.Add(10 * Day))
	e.checkMails(
		"2026-12-03 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-08 00:00 prerelease-notice encrypted to "+vendors,
		"2026-12-09 00:00 announcement signed to "+public,
	)
	// In the Kata process fix-released means all patches are merged,
	// which the lead says: the announcement leaves the case fix-committed.
	if got, _ := e.cases.get(c.ID); got.State != cases.StateFixCommitted {
		t.Errorf("state %s after the announcement, want fix-committed (the lead sets fix-released)", got.State)
	}
}

// TestKubeEdgeTimeline: 7 days' notice and the 24-hour notice; the fix
// deadline of 7 days gives SLA reminders while the fix is not committed.
func TestKubeEdgeTimeline(t *testing.T) {
	now := utc("2026-12-01 12:00")
	e := newEnv(t, now, "kubeedge")
	c := e.newCase(1, "kubeedge", utc("2026-11-28 09:00"))
	if _, err := e.disclose(c, utc("2026-12-08 11:59"), ""); err == nil || !strings.Contains(err.Error(), "at least 7 days") {
		t.Errorf("6 days 23 hours: %v", err)
	}
	t0 := utc("2026-12-08 12:00")
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	// The 7-day deadline is to develop the fix, met by fix-committed
	// before the notices: a disclosure after it is the rule, not a note.
	if strings.Contains(plan, "deadline") {
		t.Errorf("the plan warns about the fix-development deadline:\n%s", plan)
	}
	e.advance(t0.Add(Day))
	e.checkMails(
		"2026-12-01 12:00 embargo-notice encrypted to "+vendors,
		"2026-12-07 12:00 prerelease-notice encrypted to "+vendors,
		"2026-12-08 12:00 announcement signed to "+public,
	)
}

func TestSLAReminders(t *testing.T) {
	now := utc("2026-12-01 00:00")
	e := newEnv(t, now, "kubeedge")
	c := e.newCase(1, "kubeedge", utc("2026-12-01 00:00")) // fix within 7 days
	kn := e.newCase(2, "knative", utc("2026-12-01 00:00")) // evaluate within 7, release within 28
	kn.State = cases.StateNew
	e.cases.put(kn)
	check := func(at string, want int) {
		t.Helper()
		e.clk.Set(utc(at))
		n, err := e.s.CheckSLA(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("at %s: %d reminders, want %d", at, n, want)
		}
	}
	check("2026-12-05 23:59", 0)
	check("2026-12-06 00:00", 2) // both due soon (2 days' lead)
	check("2026-12-06 12:00", 0) // not twice
	check("2026-12-08 00:00", 2) // both missed
	kn.State = cases.StateConfirmed
	e.cases.put(kn)
	check("2026-12-27 00:00", 1) // knative release soon
	c.State = cases.StateFixCommitted
	e.cases.put(c)
	check("2026-12-29 00:00", 1) // knative release missed; kubeedge fix done
	ms := e.mails()
	if len(ms) != 6 {
		t.Fatalf("%d reminder mails", len(ms))
	}
	for _, m := range ms {
		if m.Kind != MailReminder || !m.Encrypt || strings.Join(m.Recipients, ",") != "alice@team.example" {
			t.Errorf("reminder %v", m)
		}
	}
	containsAll(t, "first reminder", ms[0].Subject+ms[1].Subject, "Due soon: develop the fix", "Due soon: evaluate the report")
	containsAll(t, "missed reminder", ms[5].Subject, "OVERDUE: release the fix")
}

// TestReplan moves T0 after the embargo notice: distributors get a change
// notice with the new date, old steps are cancelled, new ones run once.
func TestReplan(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-11-25 10:00"))
	// Earlier than 21 days from the notice: refused.
	if _, err := e.disclose(c, utc("2026-12-10 16:00"), ""); err == nil {
		t.Fatal("re-plan inside the minimum notice accepted")
	}
	plan, err := e.disclose(c, utc("2026-12-16 16:00"), "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "embargo notice (sent)", "date change notice", "2026-12-16 16:00 UTC")
	e.advance(utc("2026-12-31 00:00"))
	ms := e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-25 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-15 16:00 prerelease-notice encrypted to "+vendors,
		"2026-12-16 16:00 announcement signed to "+public,
		"2026-12-17 16:00 reminder encrypted to alice@team.example",
		"2026-12-19 16:00 reminder encrypted to alice@team.example",
	)
	if len(ms) == 5 {
		containsAll(t, "change notice", ms[1].Subject, "new disclosure date 2026-12-16 16:00 UTC")
		containsAll(t, "change notice calendar", ms[1].Entity, "text/calendar")
	}
}

// TestPublishNow breaks the embargo: pending steps are cancelled,
// distributors told why, the announcement goes out at once.
func TestPublishNow(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-11-30 12:00"))
	if err := e.tx(func(tx *sql.Tx) error { return e.s.PublishNow(e.ctx, tx, c, "", "x") }); !errors.Is(err, ErrNoReason) {
		t.Errorf("publish-now without a reason: %v", err)
	}
	err := e.tx(func(tx *sql.Tx) error {
		return e.s.PublishNow(e.ctx, tx, c, "exploit posted on a public forum", e.lead.Fingerprint)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.cases.put(c)
	e.advance(utc("2027-01-31 00:00"))
	ms := e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-30 12:00 embargo-notice encrypted to "+vendors,
		"2026-11-30 12:00 announcement signed to "+public,
		"2026-12-01 12:00 reminder encrypted to alice@team.example",
		"2026-12-03 12:00 reminder encrypted to alice@team.example",
	)
	if len(ms) == 4 {
		containsAll(t, "broken notice", ms[1].Subject, "EMBARGO LIFTED")
		containsAll(t, "broken notice body", ms[1].Entity, "exploit posted on a public forum")
	}
	var audit []string
	for _, ev := range e.events(1) {
		audit = append(audit, ev.A+": "+ev.B)
	}
	containsAll(t, "audit", strings.Join(audit, "\n"), "publish-now: embargo broken: exploit posted", "embargo-broken", "announcement")
	if err := e.tx(func(tx *sql.Tx) error { return e.s.PublishNow(e.ctx, tx, c, "again", "x") }); !errors.Is(err, ErrState) {
		t.Errorf("second publish-now: %v", err)
	}
}

// TestNotifyNow sends a deferred embargo notice early: refused when that
// makes the embargo longer than the policy allows, unless forced.
func TestNotifyNow(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if err := e.tx(func(tx *sql.Tx) error { return e.s.NotifyNow(e.ctx, tx, c, "", "x") }); !errors.Is(err, ErrNoPlan) {
		t.Errorf("notify without a plan: %v", err)
	}
	t0 := utc("2027-01-08 16:00") // 49 days: the notice waits until 28 days before
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "embargo notice  ", "2026-12-11 16:00 UTC")
	if n := len(e.mails()); n != 0 {
		t.Fatalf("deferred notice sent at once (%d mails)", n)
	}
	e.clk.Set(utc("2026-11-21 10:00"))
	err = e.tx(func(tx *sql.Tx) error { return e.s.NotifyNow(e.ctx, tx, c, "", e.lead.Fingerprint) })
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "at most 28 days, this gives 48 days") || !strings.Contains(err.Error(), "force: REASON") {
		t.Fatalf("a 48-day embargo under knative, not forced: %v", err)
	}
	if n := len(e.mails()); n != 0 {
		t.Fatalf("refused /notify sent %d mails", n)
	}
	if err := e.tx(func(tx *sql.Tx) error {
		return e.s.NotifyNow(e.ctx, tx, c, "the vendors asked for time", e.lead.Fingerprint)
	}); err != nil {
		t.Fatal(err)
	}
	var notified bool
	for _, ev := range e.events(c.ID) {
		notified = notified || ev.Kind == "audit" && ev.A == "notify" && strings.Contains(ev.B, "forced (the vendors asked for time)")
	}
	if !notified {
		t.Error("the forced /notify and its reason are not in the audit log")
	}
	e.advance(t0)
	e.checkMails(
		"2026-11-21 10:00 embargo-notice encrypted to "+vendors,
		"2027-01-07 16:00 prerelease-notice encrypted to "+vendors,
		"2027-01-08 16:00 announcement signed to "+public,
	)
}

// TestArtifactsNeverBlock: a CVE record that cannot be built (no reference
// URL) does not hold the announcement back; the lead is told.
func TestArtifactsNeverBlock(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 12:00"), "kubeedge")
	e.s.cfg.Artifacts.AdvisoryURL = ""
	c := e.newCase(1, "kubeedge", utc("2026-12-01 08:00"))
	if _, err := e.disclose(c, utc("2026-12-08 12:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-09 00:00"))
	ms := e.mails()
	if len(ms) != 3 || ms[2].Kind != MailAnnouncement {
		t.Fatalf("mails %v", ms)
	}
	if _, err := os.Stat(filepath.Join(e.artifacts, "EXSA-2026-001.osv.json")); err != nil {
		t.Error(err)
	}
	var alert string
	for _, ev := range e.events(1) {
		if ev.Kind == "alert" {
			alert = ev.A + "\n" + ev.B
		}
	}
	containsAll(t, "alert", alert, "Artifacts incomplete", "reference URL", "EXSA-2026-001.md")
}

// TestEndedCaseStops: a case ended as wontfix after planning sends nothing
// more; the skipped steps are logged.
func TestEndedCaseStops(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 12:00"), "kubeedge")
	c := e.newCase(1, "kubeedge", utc("2026-12-01 08:00"))
	if _, err := e.disclose(c, utc("2026-12-08 12:00"), ""); err != nil {
		t.Fatal(err)
	}
	c.State = cases.StateWontfix
	e.cases.put(c)
	e.advance(utc("2026-12-31 00:00"))
	e.checkMails("2026-12-01 12:00 embargo-notice encrypted to " + vendors)
	jobs, _ := e.s.Jobs(e.ctx, 1)
	for _, j := range jobs[1:] {
		if j.State != JobSkipped || !strings.Contains(j.Result, "wontfix") {
			t.Errorf("job %s: %s %q", j.Kind, j.State, j.Result)
		}
	}
}

// TestWithdraw: a case ended as wontfix after its embargo notice went out
// cancels the rest of its timeline and tells the distributors, encrypted,
// that the disclosure is withdrawn; one whose notice was still deferred
// just loses its timeline.
func TestWithdraw(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	notified := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	deferred := e.newCase(2, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(notified, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.disclose(deferred, utc("2027-01-08 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(utc("2026-11-25 10:00"))
	for _, c := range []*cases.Case{notified, deferred} {
		c.State = cases.StateWontfix
		e.cases.put(c)
		if err := e.tx(func(tx *sql.Tx) error {
			return e.s.Withdraw(e.ctx, tx, c, "works as designed", e.lead.Fingerprint)
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(utc("2027-02-01 00:00"))
	ms := e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-25 10:00 embargo-notice encrypted to "+vendors,
	)
	if len(ms) == 2 {
		containsAll(t, "withdrawn notice", ms[1].Subject, "[SEC-2026-0001] EMBARGOED: disclosure withdrawn")
		containsAll(t, "withdrawn notice body", ms[1].Entity, "planned for", "2026-12-11 16:00 UTC", "decided not to fix it",
			"Why: works as designed", "do not publish it")
	}
	for _, id := range []int64{1, 2} {
		jobs, _ := e.s.Jobs(e.ctx, id)
		for _, j := range jobs {
			if j.State == JobPending {
				t.Errorf("case %d: %s still pending", id, j.Kind)
			}
		}
	}
	// A second side exit (opinion, then wontfix) withdraws nothing more.
	if err := e.tx(func(tx *sql.Tx) error { return e.s.Withdraw(e.ctx, tx, notified, "", e.lead.Fingerprint) }); err != nil {
		t.Fatal(err)
	}
	if n := len(e.mails()); n != 2 {
		t.Errorf("%d mails after a second withdrawal, want 2", n)
	}
	if _, _, ok, _ := e.s.CurrentPlan(e.ctx, notified.ID); ok {
		t.Error("a withdrawn plan is still current")
	}
	// Planned again, the case starts a fresh embargo (a notice, not a change).
	notified.State = cases.StateConfirmed
	e.cases.put(notified)
	if _, err := e.disclose(notified, utc("2027-02-22 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	ms = e.mails()
	if len(ms) != 3 || ms[2].Kind != MailEmbargoNotice || !strings.Contains(ms[2].Subject, "EMBARGOED") || strings.Contains(ms[2].Subject, "new disclosure date") {
		t.Errorf("after planning again: %v", ms)
	}
}

// TestNoticeCarriesDetails: the embargo notice carries the title,
// component, mitigation and patches the team wrote, and the OSV record the
// title and references.
func TestNoticeCarriesDetails(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	c.Details = cases.Details{Title: "Path traversal in uploads", Component: "upload-handler",
		Mitigation: "Turn uploads off in the configuration.", Patches: []string{"https://git.example.org/commit/abc123"},
		References: []string{"https://example.org/advisories/EXSA-2026-001"}}
	e.cases.put(c)
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	ms := e.mails()
	if len(ms) == 0 {
		t.Fatal("no embargo notice")
	}
	containsAll(t, "notice subject", ms[0].Subject, "Path traversal in uploads")
	containsAll(t, "notice", ms[0].Entity, "Title: Path traversal in uploads", "(upload-handler)", "Mitigation:",
		"Turn uploads off in the configuration.", "Patches:", "https://git.example.org/commit/abc123")
	e.advance(utc("2026-12-12 00:00"))
	osv, err := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.osv.json"))
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "OSV", string(osv), `"summary": "Path traversal in uploads"`, "https://example.org/advisories/EXSA-2026-001", `"name": "upload-handler"`)
}

// TestDraft renders texts for /draft with the case, the requester and the
// current plan.
func TestDraft(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	c.Title = "Path traversal in uploads"
	e.cases.put(c)
	draft := func(name string) (string, string) {
		var subj, body string
		if err := e.tx(func(tx *sql.Tx) error {
			var err error
			subj, body, err = e.s.Draft(e.ctx, tx, c, name, cases.DraftOptions{Actor: templates.Person{Name: "Alice Lead", Address: "alice@team.example"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return subj, body
	}
	subj, body := draft(templates.CVERequestPrivate)
	containsAll(t, "CVE request subject", subj, "Path traversal in uploads", "(embargoed)")
	containsAll(t, "CVE request", body, "Requester: Alice Lead <alice@team.example>", "Affected versions: < 1.2.3")
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	_, body = draft(templates.Announcement)
	containsAll(t, "announcement draft", body, "CVE-2026-12341")
	n := len(e.mails())
	draft(templates.EmbargoNotice)
	if len(e.mails()) != n {
		t.Error("a draft was sent")
	}
}

// TestNoEmbargo: a disclosure planned without an embargo sends the
// distributors nothing, is not held to the notice period, refuses /notify,
// and cannot replace an embargo the distributors were already told of.
func TestNoEmbargo(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-11-25 16:00"), ""); err == nil {
		t.Fatal("a 5-day embargo under knative was planned")
	}
	var plan string
	err := e.tx(func(tx *sql.Tx) error {
		var err error
		plan, err = e.s.Disclose(e.ctx, tx, c, utc("2026-11-25 16:00"), cases.DiscloseOptions{NoEmbargo: true}, e.lead.Fingerprint)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.cases.put(c)
	containsAll(t, "plan", plan, "no embargo", "PUBLIC DISCLOSURE")
	if err := e.tx(func(tx *sql.Tx) error { return e.s.NotifyNow(e.ctx, tx, c, "", e.lead.Fingerprint) }); !errors.Is(err, ErrState) {
		t.Errorf("/notify on a plan without embargo: %v", err)
	}
	e.advance(utc("2026-12-01 00:00"))
	e.checkMails("2026-11-25 16:00 announcement signed to "+public, "2026-11-26 16:00 reminder encrypted to alice@team.example",
		"2026-11-28 16:00 reminder encrypted to alice@team.example")

	// An embargo already told cannot be dropped.
	c2 := e.newCase(2, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c2, utc("2026-12-22 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	err = e.tx(func(tx *sql.Tx) error {
		_, err := e.s.Disclose(e.ctx, tx, c2, utc("2026-12-23 16:00"), cases.DiscloseOptions{NoEmbargo: true}, e.lead.Fingerprint)
		return err
	})
	if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "embargo list was told") {
		t.Errorf("dropping a told embargo: %v", err)
	}
}

// TestPreAnnounceNoEmbargo: without an embargo the knative preset tells the
// public list the date at once, and again when it moves.
func TestPreAnnounceNoEmbargo(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	e.wholePreset = true
	e.s = e.newScheduler("knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	for _, t0 := range []time.Time{utc("2026-11-25 16:00"), utc("2026-11-26 16:00")} {
		if err := e.tx(func(tx *sql.Tx) error {
			_, err := e.s.Disclose(e.ctx, tx, c, t0, cases.DiscloseOptions{NoEmbargo: true}, e.lead.Fingerprint)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	ms := e.checkMails("2026-11-20 09:30 pre-announcement signed to "+public, "2026-11-20 09:30 pre-announcement signed to "+public)
	if len(ms) == 2 {
		containsAll(t, "first", ms[0].Subject, "planned for 2026-11-25 16:00 UTC")
		containsAll(t, "second", ms[1].Entity, "2026-11-26 16:00 UTC", "This replaces the date announced before, 2026-11-25 16:00 UTC.")
	}
	// A plan whose embargo notice had not gone out was never told to the
	// public: without an embargo now, its date is told as the first.
	c2 := e.newCase(2, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c2, utc("2027-01-20 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	if err := e.tx(func(tx *sql.Tx) error {
		_, err := e.s.Disclose(e.ctx, tx, c2, utc("2026-12-01 16:00"), cases.DiscloseOptions{NoEmbargo: true}, e.lead.Fingerprint)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ms = e.mails()
	if len(ms) != 3 || ms[2].Kind != MailPreAnnouncement || strings.Contains(ms[2].Entity, "replaces") {
		t.Errorf("after dropping a deferred embargo: %v", ms)
	}
}

// TestRequireCVE: kata tells the distributors only of a vulnerability with
// a CVE ID; without an embargo it needs none. kubeedge notes the
// out-of-band release of a critical fix.
func TestRequireCVE(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 12:00"), "kata")
	c := e.newCase(1, "kata", utc("2026-11-30 08:00"))
	c.CVE = ""
	e.cases.put(c)
	var re *ReadinessError
	if _, err := e.disclose(c, utc("2026-12-08 00:00"), ""); !errors.As(err, &re) || !strings.Contains(err.Error(), "no CVE ID (/cve)") {
		t.Errorf("kata without a CVE: %v", err)
	}
	if err := e.tx(func(tx *sql.Tx) error {
		_, err := e.s.Disclose(e.ctx, tx, c, utc("2026-12-08 00:00"), cases.DiscloseOptions{NoEmbargo: true}, e.lead.Fingerprint)
		return err
	}); err != nil {
		t.Errorf("kata without a CVE nor an embargo: %v", err)
	}

	k := newEnv(t, utc("2026-12-01 12:00"), "kubeedge")
	kc := k.newCase(1, "kubeedge", utc("2026-11-30 08:00"))
	plan, err := k.disclose(kc, utc("2026-12-09 12:00"), "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "kubeedge plan", plan, "out-of-band release")
}

// TestWithdrawPreAnnounced: the public lists told of a release date hear
// that it is cancelled when the case ends without one.
func TestWithdrawPreAnnounced(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	e.wholePreset = true
	e.s = e.newScheduler("knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	c.State = cases.StateWontfix
	e.cases.put(c)
	if err := e.tx(func(tx *sql.Tx) error { return e.s.Withdraw(e.ctx, tx, c, "", e.lead.Fingerprint) }); err != nil {
		t.Fatal(err)
	}
	ms := e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-20 09:30 pre-announcement signed to "+public,
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-11-20 09:30 pre-announcement signed to "+public,
	)
	if len(ms) == 4 {
		containsAll(t, "cancellation", ms[3].Subject, "security release of 2026-12-11 16:00 UTC cancelled")
		containsAll(t, "cancellation", ms[3].Entity, "will not", "no advisory will be published then")
		if strings.Contains(ms[3].Entity, "CRITICAL") {
			t.Error("the cancellation shows the severity")
		}
	}
}

// patchCases keeps patch files, as cases.Workflow does.
type patchCases struct {
	*fakeCases
	files []cases.Attachment
}

func (p patchCases) PatchFiles(ctx context.Context, tx *sql.Tx, c *cases.Case) ([]cases.Attachment, error) {
	return p.files, nil
}

// TestNoticeCarriesPatchFiles: the embargo and pre-release notices carry
// the case's patch files beside the calendar file; the announcement does not.
func TestNoticeCarriesPatchFiles(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	e.s.SetCases(patchCases{e.cases, []cases.Attachment{{Filename: "fix-1.2.3.patch", ContentType: "text/x-patch", Data: []byte("--- a/x\n+++ b/x\n")}}})
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-12 00:00"))
	ms := e.mails()
	if len(ms) != 3 {
		t.Fatalf("%d mails", len(ms))
	}
	for _, m := range ms[:2] {
		containsAll(t, m.Kind, m.Entity, `filename="fix-1.2.3.patch"`, "disclosure-SEC-2026-0001.ics")
	}
	if strings.Contains(ms[2].Entity, "fix-1.2.3.patch") {
		t.Error("the announcement carries the patch file")
	}
}

// TestCVERecordWithoutCNA: a case with a CVE ID but no configured CNA gets
// its other artifacts at T0, and the lead is told why the CVE record is
// missing (it was left out in silence).
func TestCVERecordWithoutCNA(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 12:00"), "kubeedge")
	e.s.cfg.Artifacts.CNAOrgID = ""
	c := e.newCase(1, "kubeedge", utc("2026-12-01 08:00"))
	if c.CVE == "" {
		t.Fatal("the test case has no CVE ID")
	}
	if _, err := e.disclose(c, utc("2026-12-08 12:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.advance(utc("2026-12-09 00:00"))
	if _, err := os.Stat(filepath.Join(e.artifacts, c.CVE+".json")); err == nil {
		t.Error("a CVE record was written without a CNA")
	}
	var alert string
	for _, ev := range e.events(1) {
		if ev.Kind == "alert" {
			alert = ev.A + "\n" + ev.B
		}
	}
	containsAll(t, "alert", alert, "Artifacts incomplete", "CVE record of "+c.CVE+" not written", "cna_org_id")
}

// TestAnnounceToEmbargo: the knative preset announces the release to the
// embargo list too, encrypted to each distributor, once; a policy can
// turn it off, and the other presets do not.
func TestAnnounceToEmbargo(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name, policy string
		override     *Override
		publicLists  []string
		want         []string
	}{
		{name: "knative", policy: "knative", want: []string{
			"2026-12-11 16:00 announcement signed to " + public,
			"2026-12-11 16:00 announcement encrypted to " + vendors}},
		{name: "knative turned off", policy: "knative", override: &Override{AnnounceToEmbargo: &off}, want: []string{
			"2026-12-11 16:00 announcement signed to " + public}},
		{name: "embargo list among the public lists", policy: "knative", publicLists: []string{"announce", "embargo"}, want: []string{
			"2026-12-11 16:00 announcement signed to " + public,
			"2026-12-11 16:00 announcement encrypted to " + vendors}},
		{name: "kubeedge", policy: "kubeedge", want: []string{
			"2026-12-11 16:00 announcement signed to " + public}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, utc("2026-11-20 09:30"), tc.policy)
			e.wholePreset = true
			e.s = e.newScheduler(tc.policy, func(cfg *Config) {
				o := Override{}
				if tc.override != nil {
					o = *tc.override
				}
				o.PreAnnounce = &off
				cfg.Policies = map[string]Override{tc.policy: o}
				if tc.publicLists != nil {
					cfg.PublicLists = tc.publicLists
				}
			})
			c := e.newCase(1, tc.policy, utc("2026-11-16 08:00"))
			if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
				t.Fatal(err)
			}
			e.advance(utc("2026-12-11 16:00"))
			var got []string
			for _, m := range e.mails() {
				if m.Kind == MailAnnouncement {
					got = append(got, m.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("announcements:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestReleaseLink: the release link (/release, KubeEdge: the release notes
// and binaries) reaches the announcement, the advisory and the records,
// tagged as release notes, and the records still validate.
func TestReleaseLink(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "kubeedge")
	c := e.newCase(1, "kubeedge", utc("2026-11-16 08:00"))
	c.Release = "https://example.org/releases/v1.2.3"
	e.cases.put(c)
	t0 := utc("2026-12-11 16:00")
	if _, err := e.disclose(c, t0, ""); err != nil {
		t.Fatal(err)
	}
	e.advance(t0)
	var ann []sentMail
	for _, m := range e.mails() {
		if m.Kind == MailAnnouncement || m.Kind == MailPreReleaseNotice {
			ann = append(ann, m)
		}
	}
	if len(ann) != 2 {
		t.Fatalf("%d pre-release notices and announcements", len(ann))
	}
	containsAll(t, "pre-release notice", ann[0].Entity, "Release: "+c.Release)
	containsAll(t, "announcement", ann[1].Entity, "Release and binaries: "+c.Release)
	adv, _ := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.md"))
	containsAll(t, "advisory", string(adv), "The release and its binaries: "+c.Release)
	cve, _ := os.ReadFile(filepath.Join(e.artifacts, "CVE-2026-12341.json"))
	validate(t, compileSchema(t, "CVE_Record_Format_bundled.json"), "CVE record", cve)
	flat := func(b []byte) string { return strings.Join(strings.Fields(string(b)), " ") }
	containsAll(t, "CVE record", flat(cve), `"url": "`+c.Release+`", "tags": [ "release-notes" ]`)
	osv, _ := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.osv.json"))
	validate(t, compileSchema(t, "osv-schema.json"), "OSV record", osv)
	containsAll(t, "OSV record", flat(osv), `"type": "PACKAGE", "url": "`+c.Release+`"`)
}
