package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// The three tests below walk the process documents the presets implement
// (Knative's vulnerability disclosure response policy, the Kata Containers
// vulnerability management process, KubeEdge's security release process),
// step by step in the order each document lists them, through the
// scheduler: each step quotes the document, and names the mail it sends
// with its time and audience (seedWalk). A step that is the intake's or
// the case workflow's (the acknowledgement, /status, the fix lead's
// hand-off) names where it is tested; a step that only people can do (a
// private branch, a pull request, a release job, a web form) says so.

// TestKnativeTimeline walks Knative's policy: the reminder to evaluate
// within 7 days, the CVE request drafted, the date told to the public list
// and the embargo list at once with three weeks' notice (at most four),
// the reminder to release within 28 days, the release announced to the
// public lists and the embargo list, the retrospective 1-3 days after;
// the embargo broken and the slow-down band on their own.
func TestKnativeTimeline(t *testing.T) {
	received := utc("2026-11-14 08:00")
	e := newEnv(t, received, "knative")
	e.wholePreset = true // the pre-announcement and the announcement to the embargo list
	e.s = e.newScheduler("knative")
	c := e.newCase(1, "knative", received)
	c.State = cases.StateNew
	c.Details = cases.Details{Title: "Path traversal in uploads", Mitigation: "Turn uploads off in the configuration.",
		Patches: []string{"https://git.example.org/commit/abc123"}}
	e.cases.put(c)
	w := newSeedWalk(t, e)

	// "Identifying a Fix Lead": "We use a rota system to assign the default
	// PST Lead role" and "positive hand-off should be performed": the case
	// workflow's, when the report opens a case and by /lead (cases:
	// TestOpenCase, TestLeadHandoff). "Organising the Fix Team": /team add.
	// "the Fix Lead will create a Github Security Advisory and provide the
	// Fix Team access to a private branch": people, on GitHub.

	// "Within 1-7 Days of Disclosure ... Vulnerabilities are evaluated":
	// the lead is reminded two days before the seventh day while the
	// report waits (evaluation_deadline).
	w.until("2026-11-19 07:59")
	w.step(`"Within 1-7 Days of Disclosure": nothing before the reminder`)
	w.until("2026-11-19 08:00")
	if ms := w.step(`"Within 1-7 Days of Disclosure": "Vulnerabilities are evaluated" (reminder, due 2026-11-21 08:00)`,
		"2026-11-19 08:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
		containsAll(t, "evaluation reminder", ms[0].Subject, "Due soon: evaluate the report")
	}
	// 1. "The Fix Team will create a CVSS using the CVSS calculator": /cvss
	// computes the score (cases). 2. "If the Fix Team determines this is
	// not a vulnerability ... the discloser is notified and the process
	// ends" (and "in all cases ... inform the reporter that the disclosure
	// has been seen"): /close invalid tells the reporter (cases:
	// TestReporterToldOnDecisions); the intake's acknowledgement says the
	// report was received. 3. "the Fix Lead creates a private branch ...
	// and a Github Security Advisory": people; /advisory records its ID.
	// 4. "The Fix Lead responds to the reporter to let them know the work
	// has begun ... asked if they would like credit": /status confirmed
	// tells the reporter and asks (cases: TestReporterConfirmed). 5. "The
	// Fix Team urgently develops a fix or mitigation": people.
	e.clk.Set(utc("2026-11-20 09:30"))
	c.State = cases.StateCVERequested
	e.cases.put(c)
	// 6. "The Fix Lead completes the Github Security Advisory and requests
	// a CVE from Github": GitHub's form is people's; the request is drafted
	// from the case for the lead, and nothing is sent.
	subj, body := e.draft(c, templates.CVERequestPrivate)
	containsAll(t, "CVE request", subj+"\n"+body, "(embargoed)", "Affected versions: < 1.2.3", "Requester: Alice Lead <alice@team.example>")
	w.step(`6. "requests a CVE from Github" (drafted for the lead, not sent)`)

	// 7. "If the CVSS score is below 4.0, the Fix Team may ... decide to
	// slow down the release process": the plan's answer tells the lead so
	// of a case below 4.0, not of this one (9.8).
	low := newEnv(t, e.clk.Now(), "knative")
	lc := low.newCase(1, "knative", received)
	lc.CVSSScore, lc.Severity = 3.1, "LOW"
	low.cases.put(lc)
	lowPlan, err := low.disclose(lc, utc("2026-12-11 16:00"), "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan of a CVSS 3.1 case", lowPlan, "Note: CVSS 3.1 is below 4.0: the policy allows a slower release")

	// 8. "The fact that a vulnerability has been disclosed and a fix will
	// be released is communicated ... to the knative-security-announce
	// mailing list with an exact date and time planned for the disclosure.
	// If the optional embargoed disclosure step will be followed ..., this
	// date must be three weeks from when the disclosure is released to the
	// embargo list."
	t0 := utc("2026-12-11 16:00") // 21 days 6.5 hours after the embargo notice
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "2026-11-20 09:30 UTC", "2026-12-10 16:00 UTC", "2026-12-11 16:00 UTC",
		"2026-12-11 17:00 CET", "Europe/Berlin", "retrospective")
	for _, no := range []string{"slower release", "deadline"} {
		if strings.Contains(plan, no) {
			t.Errorf("the plan of a CVSS 9.8 case released within 28 days says %q:\n%s", no, plan)
		}
	}
	if !c.DiscloseAt.Equal(t0) {
		t.Errorf("DiscloseAt %v", c.DiscloseAt)
	}
	if tl, pub, ok, err := e.s.CurrentPlan(e.ctx, 1); err != nil || !ok || !tl.T0.Equal(t0) || !tl.Notified || !pub.IsZero() {
		t.Errorf("CurrentPlan = %+v %v %v %v", tl, pub, ok, err)
	}
	if ms := w.step(`8. "communicated ... to the knative-security-announce mailing list with an exact date and time"`,
		"2026-11-20 09:30 pre-announcement signed to "+public); len(ms) == 1 {
		// 9. "This email should be actionable: it should be clear when
		// users should block time to apply patches": the date, the
		// severity, never what it is (nor, then, its mitigations).
		pre := ms[0]
		containsAll(t, "pre-announcement", pre.Subject, "security release planned for 2026-12-11 16:00 UTC")
		containsAll(t, "pre-announcement", pre.Entity, "2026-12-11 16:00 UTC", "Its severity is CRITICAL.", "Please plan to apply the update at that time.")
		for _, secret := range []string{"CVE-2026", c.Impact, c.Affected, "SEC-2026-0001", c.Mitigation} {
			if strings.Contains(pre.Subject+pre.Entity, secret) {
				t.Errorf("the pre-announcement shows %q", secret)
			}
		}
	}
	// "Optional, Within 1-14 Days of Disclosure (Private, Embargoed
	// Disclosure)": 1. "the Embargo List is emailed with details of the
	// fix (including any proposed patch/mitigation and actionable
	// instructions) and the date it will be publicly disclosed and
	// released."
	if ms := w.step(`Embargoed Disclosure 1. "the Embargo List is emailed with details of the fix ... and the date"`,
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors); len(ms) == 1 {
		n := ms[0]
		if !n.ValidUntil.Equal(t0) {
			t.Errorf("the embargo notice must require keys valid through T0: %v", n.ValidUntil)
		}
		containsAll(t, "embargo notice subject", n.Subject, "EMBARGOED", "CVE-2026-12341")
		containsAll(t, "embargo notice", n.Entity, "Turn uploads off in the configuration.", "https://git.example.org/commit/abc123",
			"2026-12-11 16:00 UTC", "multipart/mixed", "text/calendar", "disclosure-SEC-2026-0001.ics")
	}
	// 2. "the Public Disclosure should not be released until at least
	// three weeks after this notification is sent ... In exceptional
	// circumstances this may be extended to four weeks": a new date is
	// held to the notice already sent.
	for _, bad := range []struct{ t0, why string }{
		{"2026-12-11 09:29", "at least 21 days before disclosure, this gives 20 days 23 hours"},
		{"2026-12-18 09:31", "at most 28 days"},
	} {
		if _, err := e.disclose(c, utc(bad.t0), ""); err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("moving T0 to %s: %v, want a refusal saying %q", bad.t0, err, bad.why)
		}
	}
	if pol, _ := e.s.Policy("knative"); len(pol.Violations(utc("2026-11-20 09:30"), utc("2026-12-18 09:30"))) != 0 {
		t.Error("four weeks' embargo refused")
	}
	w.step(`Embargoed Disclosure 2. "at least three weeks after this notification is sent" (refusals send nothing)`)
	// 3. "This step is optional and should be reserved for significant
	// vulnerabilities": the lead's judgement; /disclose ... no-embargo
	// plans without it (TestNoEmbargo, TestPreAnnounceNoEmbargo).
	// 4. "In the unlikely event that a member of the PST list breaks
	// embargo ... the PST Lead will decide whether to accelerate the
	// schedule ... When in doubt push forward and go public ASAP": below.

	// "Within 1-28 Days of Disclosure (Fix Release Day)": the lead is
	// reminded two days before the 28th day while the fix is not released.
	w.until("2026-12-10 08:00")
	if ms := w.step(`"Within 1-28 Days of Disclosure (Fix Release Day)" (reminder, due 2026-12-12 08:00)`,
		"2026-12-10 08:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
		containsAll(t, "release reminder", ms[0].Subject, "Due soon: release the fix")
	}
	// Not in the Knative policy: the product's 24-hour pre-release notice
	// (pre_release_notice = "0s" turns it off).
	w.until("2026-12-10 16:00")
	if ms := w.step("the product's pre-release notice, 24 hours before (not in the Knative policy)",
		"2026-12-10 16:00 prerelease-notice encrypted to "+vendors); len(ms) == 1 {
		containsAll(t, "pre-release subject", ms[0].Subject, "public release on 2026-12-11 16:00 UTC")
		if !ms[0].ValidUntil.Equal(t0) {
			t.Errorf("the pre-release notice must require keys valid through T0: %v", ms[0].ValidUntil)
		}
	}
	// 1. "The Fix Lead cherry-picks the fix on to the main branch and all
	// relevant release branches and creates PRs." 2. "Maintainers should
	// approve this PR as quickly as possible" 3. "Release jobs should be
	// manually triggered": people, on GitHub and in CI.
	// 4. "The Issue should be disclosed to the knative-security-annnounce
	// mailing list, the knative-users mailing list, the knative-dev mailing
	// list and the embargo list including relevant PRs, mitigations and
	// the release numbers containing the fix."
	w.until("2026-12-11 16:00")
	if ms := w.step(`Fix Release Day 4. "disclosed to the knative-security-annnounce ..., knative-users ..., knative-dev mailing list and the embargo list"`,
		"2026-12-11 16:00 announcement signed to "+public,
		"2026-12-11 16:00 announcement encrypted to "+vendors); len(ms) == 2 {
		containsAll(t, "announcement subject", ms[0].Subject, "[SECURITY]", "CVE-2026-12341")
		containsAll(t, "announcement", ms[0].Entity, "https://git.example.org/commit/abc123", "Turn uploads off in the configuration.", "1.2.3")
		if strings.Contains(ms[0].Entity, "text/calendar") {
			t.Error("the announcement carries a calendar file")
		}
		// The embargo list hears the release as it happens, encrypted,
		// in the same words as the public.
		if ms[1].Subject != ms[0].Subject || ms[1].ValidUntil != (time.Time{}) {
			t.Errorf("announcement to the embargo list: %q valid through %v, public %q", ms[1].Subject, ms[1].ValidUntil, ms[0].Subject)
		}
	}
	if _, pub, _, _ := e.s.CurrentPlan(e.ctx, 1); !pub.Equal(t0) {
		t.Errorf("published %v", pub)
	}
	if got, _ := e.cases.get(1); got.State != cases.StateFixReleased {
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
	// 5. "The Fix Lead removes any permissions from private branches":
	// people, on GitHub. The fix was released within 28 days: no reminder.
	w.until("2026-12-12 08:00")
	w.step(`"Within 1-28 Days": released in time, nothing overdue`)

	// "Retrospective": 1. "A blameless retrospective should be conducted
	// 1-3 days after the release." The lead is reminded when the window
	// opens, and when it closes with the case still open.
	w.until("2026-12-14 16:00")
	if ms := w.step(`Retrospective 1. "conducted 1-3 days after the release"`,
		"2026-12-12 16:00 reminder encrypted to alice@team.example",
		"2026-12-14 16:00 reminder encrypted to alice@team.example"); len(ms) == 2 {
		containsAll(t, "retrospective reminder", ms[0].Subject, "Retrospective due by 2026-12-14")
		containsAll(t, "closing reminder", ms[1].Subject, "Retrospective window closes 2026-12-14")
	}
	// 2. "The Fix Lead will send a retrospective of the process to
	// knative-dev including details on everyone involved, the timeline of
	// the process, links to relevant PRs": /draft retrospective drafts it
	// from the case's history (cases: TestDraftRetrospective); the lead
	// sends it. 3. "Maintainers and Fix Team are also encouraged to send
	// their own feedback": people.
	w.until("2027-02-09 16:00")
	w.step("nothing else ever goes out")

	// Embargoed Disclosure 4. "In the unlikely event that a member of the
	// PST list breaks embargo, or if the exploit otherwise becomes public
	// early ... When in doubt push forward and go public ASAP": /publish-now
	// tells the embargo list why, and announces at once, to the public
	// lists and the embargo list; nothing of the old plan follows.
	b := newEnv(t, utc("2026-11-20 09:30"), "knative")
	b.wholePreset = true
	b.s = b.newScheduler("knative")
	bc := b.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := b.disclose(bc, t0, ""); err != nil {
		t.Fatal(err)
	}
	bw := newSeedWalk(t, b)
	bw.step("the plan", "2026-11-20 09:30 embargo-notice encrypted to "+vendors, "2026-11-20 09:30 pre-announcement signed to "+public)
	bw.until("2026-11-30 12:00")
	b.publishNow(bc, "exploit posted on a public forum")
	b.cases.put(bc)
	if ms := bw.step(`Embargoed Disclosure 4. "breaks embargo ... go public ASAP"`,
		"2026-11-30 12:00 embargo-notice encrypted to "+vendors,
		"2026-11-30 12:00 announcement signed to "+public,
		"2026-11-30 12:00 announcement encrypted to "+vendors); len(ms) == 3 {
		containsAll(t, "embargo broken", ms[0].Subject+ms[0].Entity, "EMBARGO LIFTED", "exploit posted on a public forum")
	}
	bw.until("2026-12-01 12:00")
	bw.step(`Retrospective 1. reminded 1 day after the release`, "2026-12-01 12:00 reminder encrypted to alice@team.example")
	bw.until("2026-12-31 00:00")
	bw.step(`Retrospective 1. ... and when the window closes; the old plan's steps never come`, "2026-12-03 12:00 reminder encrypted to alice@team.example")
}

// TestKataTimeline walks the Kata Containers process: the advisory,
// the impact description and the CVE request drafted from the case; the
// embargo of 3 to 5 business days at 00:00 UTC, never on a Monday, a
// Friday or a holiday, waiting for the reporter's consent; the advisory
// published at T0, the case left fix-committed until the lead says all
// patches are merged. Then, on their own: the security note (KCSN) of a
// class B case, a public issue with no downstream notice, the embargo
// leaked, an issue taking more than 2 weeks, and a date further than 5
// business days.
func TestKataTimeline(t *testing.T) {
	received := utc("2026-11-30 08:00") // Monday
	now := utc("2026-12-03 10:00")      // Thursday
	e := newEnv(t, now, "kata")
	e.wholePreset = true // the reporter's consent
	e.s = e.newScheduler("kata")
	c := e.newCase(1, "kata", received)
	c.Class = "A"
	c.Details = cases.Details{Title: "Guest escape through the agent socket", Mitigation: "Run the agent with seccomp on.",
		Patches: []string{"https://git.example.org/commit/abc123"}}
	e.cases.put(c)
	w := newSeedWalk(t, e)

	// "Reception": "Confirm the validity of the report." "Prefix the
	// description with an embargo reminder." "If the KCSA or report are
	// Incomplete, add an incomplete reception message in a comment." and
	// the statuses Confirmed and Incomplete: the intake's acknowledgement
	// (its EMBARGO REMINDER) and /status (cases: TestReporterToldOnDecisions).
	// "Create and fill out a Kata Containers Security Advisory (KCSA)
	// document": the advisory is drafted from the case for the VMT alone.
	_, adv := e.draft(c, templates.Advisory)
	containsAll(t, "KCSA draft", adv, "EXSA-2026-001", "CVE-2026-12341", "< 1.2.3", "1.2.3", "Guest escape through the agent socket")
	// "For some lower-risk issues ... the KCSA Issue will be set to Opinion
	// ... whether they wish to issue a Kata Containers Security Note
	// (KCSN)", "If a Kata Containers Security Note (KCSN) is warranted, one
	// should be written and posted", and "The specifics are indexed in the
	// report taxonomy": the security note below (TestClassPublication for
	// every class); "Won't Fix or Invalid": /close (cases).
	w.step(`Reception: "Create and fill out a Kata Containers Security Advisory (KCSA) document" (drafted, not sent)`)

	// "Patch development" and "Patch review": people; a patch named by
	// /patch goes with the notices (TestNoticeCarriesPatchFiles); reaching
	// out to the Open Infrastructure Foundation is people's too.
	// "Draft impact description": "a vulnerability description that will
	// be communicated to downstream stakeholders ... should properly credit
	// the reporter, specify affected versions ... and accurately describe
	// impact and mitigation mechanisms ... use the Downstream stakeholder
	// notification template. Once the description is posted, the KCSA
	// Issue status should be switched to Triaged" (/impact, /status
	// triaged: cases).
	_, impact := e.draft(c, templates.Impact)
	containsAll(t, "impact description", impact, c.Impact, "< 1.2.3", "Run the agent with seccomp on.", "Rita Reporter")
	_, notice := e.draft(c, templates.EmbargoNotice)
	containsAll(t, "downstream notification draft", notice, c.Impact, "< 1.2.3", "Run the agent with seccomp on.")
	// "Review impact description": "The description is validated by the
	// reporter and the Architecture Committee": at /status triaged the
	// reporter gets it to review, encrypted (impact_review:
	// TestImpactReview); the committee's review is people's.
	// "Send CVE request": "The KCSA Issue status is set to In progress"
	// (/status in-progress: cases) "and the approved impact description is
	// submitted through MITRE's CVE Request form": the request is drafted;
	// the form is people's.
	subj, _ := e.draft(c, templates.CVERequestPrivate)
	containsAll(t, "CVE request", subj, "(embargoed)")
	// "Get assigned CVE": /cve (cases); the downstream stakeholders hear
	// only of a vulnerability with a CVE (require_cve: TestRequireCVE).
	// Retitling the issue "$TITLE ($CVE)" is people's, on the tracker.
	w.step(`"Draft impact description", "Send CVE request" (drafted, not sent)`)

	// "Embargoed disclosure": "The disclosure date is set to 3-5 business
	// days, excluding Monday/Friday and holiday periods, at 0000 UTC."
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
	hol := newEnv(t, now, "kata")
	hol.s = hol.newScheduler("kata", func(cfg *Config) {
		o := cfg.Policies["kata"]
		o.Holidays = &[]string{"2026-12-09"}
		cfg.Policies["kata"] = o
	})
	hc := hol.newCase(1, "kata", received)
	if _, err := hol.disclose(hc, utc("2026-12-09 00:00"), ""); err == nil || !strings.Contains(err.Error(), "2026-12-09 is a holiday") {
		t.Errorf("T0 on a holiday: %v", err)
	}
	w.step(`Embargoed disclosure: "3-5 business days, excluding Monday/Friday and holiday periods, at 0000 UTC" (refusals send nothing)`)

	// "Extent of Disclosure": "Vulnerability reporters retain final
	// control over the disclosure of their findings ... their choice of
	// disclosure terms prevails": the plan waits for the reporter's /agree
	// (the case workflow sends the proposal, cases), and nothing of it goes
	// out before.
	t0 := utc("2026-12-09 00:00") // Wednesday: Fri, Mon, Tue
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "REPORTER'S CONSENT", "waiting: nothing below goes out before they agree", "2026-12-09 00:00 UTC")
	// The lead is reminded that the plan waits, before the last time its
	// embargo notice can keep the 3 business days (2026-12-04 00:00).
	w.until("2026-12-03 10:00")
	if ms := w.step(`"Vulnerability reporters retain final control over the disclosure": nothing goes out before they agree`,
		"2026-12-03 10:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
		containsAll(t, "consent reminder", ms[0].Subject, "Due soon: have the reporter agree to the disclosure planned for 2026-12-09 00:00 UTC")
	}
	w.until("2026-12-03 10:59")
	w.step("nothing before they agree")
	// "Once the patches are approved and the CVE is assigned, a signed
	// email with the vulnerability description is sent to the downstream
	// stakeholders ... No stakeholder is supposed to deploy public patches
	// before disclosure date."
	e.clk.Set(utc("2026-12-03 11:00"))
	containsAll(t, "plan once agreed", e.consent(c), "embargo notice (now)", "2026-12-03 11:00 UTC", "Reporter's consent: agreed")
	if ms := w.step(`Embargoed disclosure: "a signed email with the vulnerability description is sent to the downstream stakeholders"`,
		"2026-12-03 11:00 embargo-notice encrypted to "+vendors); len(ms) == 1 {
		containsAll(t, "embargo notice", ms[0].Entity, c.Impact, "Run the agent with seccomp on.", "2026-12-09 00:00 UTC", "text/calendar")
		if !ms[0].ValidUntil.Equal(t0) {
			t.Errorf("the embargo notice must require keys valid through T0: %v", ms[0].ValidUntil)
		}
	}
	// "Once the email is sent, the KCSA Issue status should be set to Fix
	// committed."
	if got, _ := e.cases.get(c.ID); got.State != cases.StateFixCommitted {
		t.Errorf("state %s after the embargo notice, want fix-committed", got.State)
	}
	// Not in the Kata process: the product's 24-hour pre-release notice
	// (pre_release_notice = "0s" turns it off).
	w.until("2026-12-08 00:00")
	w.step("the product's pre-release notice, 24 hours before (not in the Kata process)",
		"2026-12-08 00:00 prerelease-notice encrypted to "+vendors)
	// "Open bug, Push patch": "On the disclosure hour, open bug, push
	// patches to GitHub PR for review on master and supported stable
	// branches, fast-track approvals": people. "MITRE's CVE Request form
	// should be used again at this point ... Notify CVE about a
	// publication": people; the CVE JSON 5 record is written at T0.
	// "Publish KCSA": "publish the advisory to the Kata Containers
	// development mailing list and slack channels, and add the issue to
	// the list of KCSA's."
	w.until("2026-12-09 00:00")
	if ms := w.step(`"Publish KCSA": "publish the advisory to the Kata Containers development mailing list and slack channels"`,
		"2026-12-09 00:00 announcement signed to "+public); len(ms) == 1 {
		containsAll(t, "advisory", ms[0].Entity, "EXSA-2026-001", "CVE-2026-12341", c.Impact)
	}
	for _, f := range []string{"EXSA-2026-001.md", "EXSA-2026-001.chat.txt", "EXSA-2026-001.osv.json", "CVE-2026-12341.json"} {
		if _, err := os.Stat(filepath.Join(e.artifacts, f)); err != nil {
			t.Errorf("artifact %s (the advisory for the list of KCSAs, the text for the chat channels, the records): %v", f, err)
		}
	}
	// "Wait until all patches are merged to supported branches before
	// setting the KCSA Issue status to Fix released" ("All patches
	// merged"): the lead says so with /status fix-released; the
	// announcement leaves the case fix-committed.
	if got, _ := e.cases.get(c.ID); got.State != cases.StateFixCommitted {
		t.Errorf("state %s after the announcement, want fix-committed (the lead sets fix-released)", got.State)
	}
	w.until("2026-12-19 00:00")
	w.step("nothing else goes out")

	// "Templates": each is a text the gateway renders (the templates
	// package); those above were drafted or sent.

	t.Run("security note", func(t *testing.T) {
		// "If a Kata Containers Security Note (KCSN) is warranted, one
		// should be written and posted", "(these reports may still
		// sometimes remain under embargo until the KCSN is issued)": a
		// class B1 case waits in opinion, is planned with the reporter's
		// consent and no downstream notice, and its note goes to the
		// public lists at T0 under its own ID.
		n := newEnv(t, now, "kata")
		n.wholePreset = true
		n.s = n.newScheduler("kata")
		nc := n.newCase(1, "kata", received)
		nc.Class, nc.State, nc.Title, nc.Advisory, nc.Fixed = "B1", cases.StateOpinion, "Debug console on by default", "", ""
		n.cases.put(nc)
		nw := newSeedWalk(t, n)
		plan, err := n.disclose(nc, t0, "")
		if err != nil {
			t.Fatal(err)
		}
		containsAll(t, "note plan", plan, "no embargo", "a security note", "REPORTER'S CONSENT")
		n.clk.Set(utc("2026-12-03 11:00"))
		n.consent(nc)
		nw.step(`"these reports may still sometimes remain under embargo until the KCSN is issued": nothing before T0`)
		nw.until("2026-12-09 00:00")
		if ms := nw.step(`"If a Kata Containers Security Note (KCSN) is warranted, one should be written and posted"`,
			"2026-12-09 00:00 announcement signed to "+public); len(ms) == 1 {
			containsAll(t, "note", ms[0].Subject, "KCSN-2026-001: Debug console on by default")
		}
		if _, err := os.Stat(filepath.Join(n.artifacts, "KCSN-2026-001.md")); err != nil {
			t.Errorf("the note for the security note document: %v", err)
		}
		if got, _ := n.cases.get(nc.ID); got.State != cases.StateOpinion {
			t.Errorf("state %s after the note, want opinion", got.State)
		}
		nw.until("2026-12-19 00:00")
		nw.step("nothing else goes out: no downstream notice for a note")
	})

	t.Run("public issue", func(t *testing.T) {
		// "For non-embargoed, public vulnerabilities no separate
		// downstream advance notification is sent." (/disclose ...
		// no-embargo). "Instead, the KCSA Issue is set to Fix committed
		// status once the CVE assignment is received": the lead's
		// /status fix-committed; the gateway does not set it then.
		p := newEnv(t, now, "kata")
		pc := p.newCase(1, "kata", received)
		if err := p.tx(func(tx *sql.Tx) error {
			_, err := p.s.Disclose(p.ctx, tx, pc, utc("2026-12-08 00:00"), cases.DiscloseOptions{NoEmbargo: true}, p.lead.Fingerprint)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		p.cases.put(pc)
		pw := newSeedWalk(t, p)
		pw.step(`"no separate downstream advance notification is sent"`)
		pw.until("2026-12-10 00:00")
		pw.step(`"Publish KCSA"`, "2026-12-08 00:00 announcement signed to "+public)
	})

	t.Run("leaked", func(t *testing.T) {
		// "Embargo exceptions": "The same process is followed if an
		// embargoed issue is, accidentally or not, leaked to the public.
		// In all likelihood that Issue will then be moved to the Public
		// state.": /publish-now.
		l := newEnv(t, utc("2026-12-01 12:00"), "kata") // Tuesday
		lc := l.newCase(1, "kata", received)
		if _, err := l.disclose(lc, utc("2026-12-08 00:00"), ""); err != nil {
			t.Fatal(err)
		}
		lw := newSeedWalk(t, l)
		lw.step("the embargo notice", "2026-12-01 12:00 embargo-notice encrypted to "+vendors)
		lw.until("2026-12-04 09:00")
		l.publishNow(lc, "the issue was posted on a public tracker")
		l.cases.put(lc)
		if ms := lw.step(`"if an embargoed issue is ... leaked to the public"`,
			"2026-12-04 09:00 embargo-notice encrypted to "+vendors,
			"2026-12-04 09:00 announcement signed to "+public); len(ms) == 2 {
			containsAll(t, "embargo lifted", ms[0].Subject, "EMBARGO LIFTED")
		}
		lw.until("2026-12-19 00:00")
		lw.step("nothing of the old plan follows")
	})

	t.Run("more than 2 weeks", func(t *testing.T) {
		// "Embargo exceptions": "Issues that take too much time to be
		// fixed (e.g., more than 2 weeks) or Issues that require a complex
		// patch are usually better solved in the open." The lead is
		// reminded two days before the two weeks end, and when they have.
		s := newEnv(t, now, "kata")
		sc := s.newCase(1, "kata", received)
		sc.State = cases.StateTriaged
		s.cases.put(sc)
		sw := newSeedWalk(t, s)
		sw.until("2026-12-12 07:59")
		sw.step("nothing before the reminder")
		sw.until("2026-12-12 08:00")
		if ms := sw.step(`"more than 2 weeks ... usually better solved in the open" (due soon)`,
			"2026-12-12 08:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
			containsAll(t, "reminder", ms[0].Subject, "Due soon: fix it (or consider solving it in the open)")
		}
		sw.until("2026-12-14 08:00")
		if ms := sw.step(`"more than 2 weeks" (missed)`, "2026-12-14 08:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
			containsAll(t, "reminder", ms[0].Subject, "OVERDUE: fix it (or consider solving it in the open)")
		}
	})

	t.Run("downstream stakeholders", func(t *testing.T) {
		// "Downstream stakeholders": "The embargo period is kept
		// voluntarily small (3-5 business days)": a date further away
		// has its notice wait until 5 business days before.
		d := newEnv(t, now, "kata")
		dc := d.newCase(1, "kata", received)
		plan, err := d.disclose(dc, utc("2026-12-17 00:00"), "") // Thursday two weeks on
		if err != nil {
			t.Fatal(err)
		}
		containsAll(t, "plan", plan, "embargo notice  ", "2026-12-10 00:00 UTC")
		dw := newSeedWalk(t, d)
		dw.until("2026-12-09 23:59")
		dw.step("nothing before 5 business days ahead")
		dw.until("2026-12-10 00:00")
		dw.step(`"The embargo period is kept voluntarily small (3-5 business days)"`, "2026-12-10 00:00 embargo-notice encrypted to "+vendors)
	})
}

// TestKubeEdgeTimeline walks KubeEdge's security release process: the
// reminder to develop the fix within 7 days, the severity bands, the
// readiness the disclosure waits for (a fix, a CVE), the private
// distributors told at least 7 days (at most 4 weeks) before, with the
// patches, the proof of concept, the mitigations and the date, again 24
// hours before with the public messaging, then the announcement with the
// CVE, the severity, the impact and the release, and its texts for the
// chat channel, the tracking issue and the advisory; a vendor breaking
// the embargo on its own.
func TestKubeEdgeTimeline(t *testing.T) {
	received := utc("2026-11-28 09:00")
	e := newEnv(t, received, "kubeedge")
	e.wholePreset = true
	e.s = e.newScheduler("kubeedge")
	e.s.SetCases(patchCases{e.cases, []cases.Attachment{{Filename: "poc.sh", ContentType: "text/x-shellscript", Data: []byte("curl -H 'X: a'\n")}}})
	c := e.newCase(1, "kubeedge", received)
	c.State = cases.StateTriaged
	c.Details = cases.Details{Title: "Edge node takeover through the cloud hub", Mitigation: "Close the cloud hub port.",
		Patches: []string{"https://git.example.org/kubeedge/pull/123"}}
	c.Release = "https://example.org/releases/v1.2.3"
	e.cases.put(c)
	w := newSeedWalk(t, e)

	// "The Security Team" (membership, associates, stepping down) and
	// "Private Distributors List" membership: the team and the lists of
	// the configuration; "Process a publicly disclosed vulnerability": the
	// team asks the reporter (/reply) and, if the issue stays public,
	// /disclose ... no-embargo (TestNoEmbargo).

	// "Fix Development Process": "This part should be completed within
	// the 1-7 days of Disclosure." The lead is reminded two days before
	// the seventh day while the fix is not committed.
	w.until("2026-12-03 08:59")
	w.step(`"completed within the 1-7 days of Disclosure": nothing before the reminder`)
	w.until("2026-12-03 09:00")
	if ms := w.step(`"Fix Development Process ... within the 1-7 days of Disclosure" (reminder, due 2026-12-05 09:00)`,
		"2026-12-03 09:00 reminder encrypted to alice@team.example"); len(ms) == 1 {
		containsAll(t, "fix reminder", ms[0].Subject, "Due soon: develop the fix")
	}
	// "the Security Team will discuss the issue with the reporter(s) ...
	// to analyze/validate the vulnerability, assess its severity" and "its
	// remediation priority ... will be determined": people, with /reply
	// and /status (cases). "The Security Team will launch a CVE procedures
	// to get a CVSS score and CVE ID": /cvss, /cve (cases), the request
	// drafted (/draft cve-request-private).
	// "If the CVSS score is under ~4.0 ... the Security Team can decide to
	// slow the release process down", "If the CVSS score is under ~7.0 ...
	// the Security Team may choose to carry out the fix semi-publicly",
	// "Critical and High severity vulnerability fixes will typically
	// receive an out-of-band release": the plan's answer tells the lead.
	// "Medium and Low severity vulnerability fixes will be released as
	// part of the next KubeEdge patch release": the plan says so too.
	for _, band := range []struct {
		score    float64
		say, not []string
	}{
		{3.1, []string{"CVSS 3.1 is below 4.0: the policy allows a slower release", "CVSS 3.1 is below 7.0: the fix may be developed semi-publicly",
			"CVSS 3.1 is below 7.0: the policy releases the fix with the next patch release"}, []string{"out-of-band release,"}},
		{5.3, []string{"CVSS 5.3 is below 7.0: the fix may be developed semi-publicly", "CVSS 5.3 is below 7.0: the policy releases the fix with the next patch release"},
			[]string{"slower release", "out-of-band release,"}},
		{7.5, []string{"CVSS 7.5 is 7.0 or more: the policy gives the fix an out-of-band release, not the next patch release"},
			[]string{"slower release", "semi-publicly", "with the next patch release"}},
	} {
		b := newEnv(t, utc("2026-12-03 12:00"), "kubeedge")
		bc := b.newCase(1, "kubeedge", received)
		bc.CVSSScore = band.score
		b.cases.put(bc)
		plan, err := b.disclose(bc, utc("2026-12-10 12:00"), "")
		if err != nil {
			t.Fatal(err)
		}
		containsAll(t, fmt.Sprintf("plan of a CVSS %.1f case", band.score), plan, band.say...)
		for _, no := range band.not {
			if strings.Contains(plan, no) {
				t.Errorf("the plan of a CVSS %.1f case says %q:\n%s", band.score, no, plan)
			}
		}
	}
	w.step(`severity bands: "under ~4.0 ... slow", "under ~7.0 ... semi-publicly", "Critical and High ... out-of-band release" (the lead's answer)`)

	// "Fix Disclosure Process": "This Disclosure process should begin
	// after the Security Team has developed a Fix or mitigation so that a
	// realistic timeline can be communicated to users": no plan without
	// the fixed versions. "advance notification of any vulnerability that
	// is assigned a CVE": none without a CVE.
	// The CVE is requested (/status cve-requested): a case the
	// distributors hear of moves to fix-committed from there.
	e.clk.Set(utc("2026-12-03 12:00"))
	c.State = cases.StateCVERequested
	c.Fixed, c.CVE = "", ""
	e.cases.put(c)
	if _, err := e.disclose(c, utc("2026-12-10 12:00"), ""); err == nil || !strings.Contains(err.Error(), "fixed versions not set") ||
		!strings.Contains(err.Error(), "no CVE ID") {
		t.Errorf("a plan with no fix and no CVE: %v", err)
	}
	c.Fixed, c.CVE = "1.2.3", "CVE-2026-12341"
	e.cases.put(c)
	// "Advance Vulnerability Disclosure to Private Distributors List
	// (Completed within 1-4 weeks prior to public disclosure)": "at least
	// 7 days before the planned public disclosure date".
	if _, err := e.disclose(c, utc("2026-12-10 11:59"), ""); err == nil || !strings.Contains(err.Error(), "at least 7 days") {
		t.Errorf("6 days 23 hours 59 minutes: %v", err)
	}
	if pol, _ := e.s.Policy("kubeedge"); true {
		far, err := pol.Plan(e.clk.Now(), utc("2027-01-14 12:00"), time.Time{}, "", PlanInfo{})
		if err != nil || !far.Notice.Equal(utc("2026-12-17 12:00")) {
			t.Errorf("a disclosure 6 weeks away: notice %v (%v), want 4 weeks before", far.Notice, err)
		}
	}
	w.step(`"at least 7 days before", "within 1-4 weeks", a fix and a CVE first (refusals send nothing)`)
	t0 := utc("2026-12-10 12:00")
	plan, err := e.disclose(c, t0, "")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "out-of-band release")
	// The 7-day deadline is to develop the fix, met by fix-committed
	// before the notices: a disclosure after it is the rule, not a note.
	if strings.Contains(plan, "deadline") {
		t.Errorf("the plan warns about the fix-development deadline:\n%s", plan)
	}
	// "The notification will include all information that can be
	// reasonably provided at the time of the notification. This may
	// include patches or links to PRs, proofs of concept or instructions
	// to reproduce the vulnerability, known mitigations, and timelines
	// for public disclosure."
	if ms := w.step(`"The Private Distributors List will be given advance notification ... at least 7 days before"`,
		"2026-12-03 12:00 embargo-notice encrypted to "+vendors); len(ms) == 1 {
		containsAll(t, "embargo notice", ms[0].Entity, "https://git.example.org/kubeedge/pull/123", `filename="poc.sh"`,
			"Close the cloud hub port.", "2026-12-10 12:00 UTC", "text/calendar")
	}
	if got, _ := e.cases.get(c.ID); got.State != cases.StateFixCommitted {
		t.Errorf("state %s after the notice, want fix-committed", got.State)
	}
	w.until("2026-12-05 09:00")
	w.step("the fix developed within 7 days: nothing overdue")
	// "What if a vendor breaks embargo?": below.

	// "Fix Release Day", "Release process": "cherry-pick the patches",
	// "merge these PRs", "ensure all the binaries are built, publicly
	// available, and functional": people.
	// "Communications process": "The Private Distributors List will be
	// notified at least 24 hours in advance of a pending release
	// containing security vulnerability fixes with the public messaging,
	// date, and time of the announcement."
	w.until("2026-12-09 12:00")
	if ms := w.step(`"notified at least 24 hours in advance ... with the public messaging, date, and time of the announcement"`,
		"2026-12-09 12:00 prerelease-notice encrypted to "+vendors); len(ms) == 1 {
		containsAll(t, "pre-release notice", ms[0].Entity, "2026-12-10 12:00 UTC", "----- public announcement -----", "Release: "+c.Release)
	}
	// "The Security Team will announce the new releases, the CVE number,
	// severity, and impact, and the location of the binaries ... The
	// announcement will be sent via the following channels: General
	// announcement email ... to multiple KubeEdge lists".
	w.until("2026-12-10 12:00")
	if ms := w.step(`"announce the new releases, the CVE number, severity, and impact, and the location of the binaries": the email to the lists`,
		"2026-12-10 12:00 announcement signed to "+public); len(ms) == 1 {
		containsAll(t, "announcement", ms[0].Entity, "CVE-2026-12341", "Severity: CRITICAL", c.Impact,
			"Close the cloud hub port.", "Release and binaries: "+c.Release)
	}
	// "#announcement slack channel", "Tracking issue opened in
	// https://github.com/kubeedge/kubeedge/issues ... prefixed with the
	// associated CVE ID", "GitHub Security Advisories of KubeEdge": their
	// texts are written at T0 (the chat text, the issue, the advisory and
	// its OSV record); posting them is people's. "Patch release ... Any
	// public announcement sent for these fixes will link to the release
	// notes": the release link above and in the records (TestReleaseLink).
	chat, _ := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.chat.txt"))
	containsAll(t, "chat text", string(chat), "CVE-2026-12341", "CRITICAL", c.Release)
	issue, _ := os.ReadFile(filepath.Join(e.artifacts, "EXSA-2026-001.issue.md"))
	if !strings.HasPrefix(string(issue), "# CVE-2026-12341: Edge node takeover through the cloud hub") {
		t.Errorf("the tracking issue's title is not prefixed with the CVE ID:\n%s", issue)
	}
	for _, f := range []string{"EXSA-2026-001.md", "EXSA-2026-001.osv.json", "CVE-2026-12341.json"} {
		if _, err := os.Stat(filepath.Join(e.artifacts, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	if got, _ := e.cases.get(c.ID); got.State != cases.StateFixReleased {
		t.Errorf("state %s after the announcement, want fix-released", got.State)
	}
	w.until("2027-01-10 12:00")
	w.step("nothing else goes out (no retrospective in this process)")

	// "What if a vendor breaks embargo? The Security Team will assess the
	// damage and will make the call to release earlier or continue with
	// the plan. When in doubt push forward and go public ASAP."
	b := newEnv(t, utc("2026-12-03 12:00"), "kubeedge")
	bc := b.newCase(1, "kubeedge", received)
	if _, err := b.disclose(bc, t0, ""); err != nil {
		t.Fatal(err)
	}
	bw := newSeedWalk(t, b)
	bw.step("the advance notification", "2026-12-03 12:00 embargo-notice encrypted to "+vendors)
	bw.until("2026-12-05 10:00")
	b.publishNow(bc, "a vendor shipped the fix early")
	b.cases.put(bc)
	bw.step(`"What if a vendor breaks embargo? ... go public ASAP"`,
		"2026-12-05 10:00 embargo-notice encrypted to "+vendors,
		"2026-12-05 10:00 announcement signed to "+public)
	bw.until("2027-01-10 12:00")
	bw.step("nothing of the old plan follows")
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
