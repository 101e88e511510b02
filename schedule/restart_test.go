package schedule

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/testwait"
)

// TestRestartPastDue: the gateway was down across the whole timeline. A
// new scheduler on the same database runs the past-due jobs at once, in
// timeline order, once; notices whose T0 has passed are skipped, logged,
// and the lead is told of each.
func TestRestartPastDue(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	c1 := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	c2 := e.newCase(2, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c1, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	// Case 2's notice is deferred (T0 in 40 days): it never went out.
	if _, err := e.disclose(c2, utc("2026-12-30 09:30"), ""); err != nil {
		t.Fatal(err)
	}
	// Down until after both T0s and case 1's retrospective.
	e.clk.Set(utc("2027-01-05 00:00"))
	e.s = e.newScheduler("knative")
	n, err := e.s.RunDue(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("RunDue ran %d jobs, want 9", n)
	}
	if n, _ := e.s.RunDue(e.ctx); n != 0 {
		t.Errorf("second RunDue ran %d jobs", n)
	}
	e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2027-01-05 00:00 announcement signed to "+public,
		"2027-01-05 00:00 reminder encrypted to alice@team.example",
		"2027-01-05 00:00 announcement signed to "+public,
		"2027-01-05 00:00 reminder encrypted to alice@team.example",
	)
	jobs, _ := e.s.Jobs(e.ctx, 2)
	var got []string
	for _, j := range jobs {
		got = append(got, j.Kind+"="+j.State)
	}
	// Both retrospective reminders came due at once: one is sent.
	if strings.Join(got, " ") != "embargo-notice=skipped prerelease-notice=skipped announcement=done retrospective=done retrospective=skipped" {
		t.Errorf("case 2 jobs: %v", got)
	}
	var skipped []string
	for _, ev := range e.events(1) {
		if strings.HasSuffix(ev.A, "-skipped") {
			skipped = append(skipped, ev.A)
		}
	}
	if strings.Join(skipped, " ") != "prerelease-notice-skipped retrospective-skipped" {
		t.Errorf("case 1 skips logged: %v", skipped)
	}
	for _, tc := range []struct {
		id   int64
		want string
	}{{1, "MISSED: pre-release notice not sent"}, {2, "MISSED: embargo notice not sent MISSED: pre-release notice not sent"}} {
		var alerts []string
		for _, ev := range e.events(tc.id) {
			if ev.Kind == "alert" && strings.HasPrefix(ev.A, "MISSED") {
				alerts = append(alerts, ev.A)
				if !strings.Contains(ev.B, "was NOT sent") || !strings.Contains(ev.B, "2027-01-05 00:00 UTC") {
					t.Errorf("case %d alert text: %s", tc.id, ev.B)
				}
			}
		}
		if strings.Join(alerts, " ") != tc.want {
			t.Errorf("case %d alerts: %q, want %q", tc.id, alerts, tc.want)
		}
	}
}

// TestRestartBeforeT0: down across the pre-release time only; the notice
// goes out late, before the announcement.
func TestRestartBeforeT0(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(utc("2026-12-11 09:00"))
	e.s = e.newScheduler("knative")
	e.advance(utc("2026-12-11 17:00"))
	e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-12-11 09:00 prerelease-notice encrypted to "+vendors,
		"2026-12-11 16:00 announcement signed to "+public,
	)
}

// TestJobRunsOnce: a failing job is rolled back with its mail and retried;
// concurrent loops never run a job twice.
func TestJobRunsOnce(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(utc("2026-12-10 16:00"))
	e.out.fail = 1
	if _, err := e.s.RunDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.mails()); n != 1 {
		t.Fatalf("a failed job left mail behind: %d mails", n)
	}
	jobs, _ := e.s.Jobs(e.ctx, 1)
	if jobs[1].Kind != JobPreReleaseNotice || jobs[1].State != JobPending || jobs[1].Attempts != 1 ||
		!jobs[1].Due.Equal(utc("2026-12-10 16:01")) {
		t.Fatalf("failed job: %+v", jobs[1])
	}
	e.clk.Set(utc("2026-12-10 16:01"))
	// Several loops at once (e.g. two processes): each job once.
	var wg sync.WaitGroup
	for range 4 {
		s := e.newScheduler("knative")
		wg.Go(func() {
			if _, err := s.RunDue(e.ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	e.advance(utc("2026-12-11 16:00"))
	e.checkMails(
		"2026-11-20 09:30 embargo-notice encrypted to "+vendors,
		"2026-12-10 16:01 prerelease-notice encrypted to "+vendors,
		"2026-12-11 16:00 announcement signed to "+public,
	)
}

// TestJobGivesUp: after MaxAttempts failures the job fails for good and the
// lead is alerted.
func TestJobGivesUp(t *testing.T) {
	e := newEnv(t, utc("2026-11-20 09:30"), "knative")
	e.s.cfg.MaxAttempts = 3
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.out.fail = 100
	e.advance(utc("2026-12-10 20:00"))
	jobs, _ := e.s.Jobs(e.ctx, 1)
	if jobs[1].State != JobFailed || jobs[1].Attempts != 3 {
		t.Fatalf("job %+v", jobs[1])
	}
	var alerts []string
	for _, ev := range e.events(1) {
		if ev.Kind == "alert" {
			alerts = append(alerts, ev.A)
		}
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "FAILED: prerelease-notice") {
		t.Errorf("alerts %q", alerts)
	}
}

// TestRunLoop drives the real loop on the fake clock: it sleeps until the
// next job and wakes on Kick.
func TestRunLoop(t *testing.T) {
	e := newEnv(t, utc("2026-12-01 12:00"), "kubeedge")
	e.s.cfg.SLAInterval = 365 * Day // keep the SLA and poll timers out of the way
	e.s.cfg.PollInterval = 365 * Day
	c := e.newCase(1, "kubeedge", utc("2026-12-01 08:00"))
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.s.Run(ctx) }()
	if _, err := e.disclose(c, utc("2026-12-08 12:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.s.Kick()
	// The loop arms a timer for the pre-release notice.
	testwait.Within(t, 10*time.Second, "the pre-release timer", func() bool {
		at, ok := e.clk.NextTimer()
		return ok && at.Equal(utc("2026-12-07 12:00"))
	})
	e.clk.Set(utc("2026-12-07 12:00"))
	testwait.Within(t, 10*time.Second, "the pre-release notice", func() bool { return len(e.mails()) == 2 })
	testwait.Within(t, 10*time.Second, "the announcement timer", func() bool {
		at, ok := e.clk.NextTimer()
		return ok && at.Equal(utc("2026-12-08 12:00"))
	})
	e.clk.Set(utc("2026-12-08 12:00"))
	testwait.Within(t, 10*time.Second, "the announcement", func() bool { return len(e.mails()) == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.checkMails(
		"2026-12-01 12:00 embargo-notice encrypted to "+vendors,
		"2026-12-07 12:00 prerelease-notice encrypted to "+vendors,
		"2026-12-08 12:00 announcement signed to "+public,
	)
}

// TestBadInput: everything refused before anything is sent.
func TestBadInput(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	ready := func(id int64) *cases.Case { return e.newCase(id, "knative", utc("2026-11-16 08:00")) }

	if _, err := e.disclose(ready(1), now.Add(-time.Hour), "because"); !errors.Is(err, ErrPast) {
		t.Errorf("past: %v", err)
	}
	_, err := e.disclose(ready(2), now.Add(10*Day), "")
	var pe *PolicyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "at least 21 days") || !strings.Contains(err.Error(), "force") {
		t.Errorf("inside the minimum notice: %v", err)
	}
	for _, st := range []cases.State{cases.StateNew, cases.StateIncomplete, cases.StateOpinion, cases.StateInvalid, cases.StateFixReleased} {
		c := ready(3)
		c.State = st
		if _, err := e.disclose(c, now.Add(22*Day), ""); !errors.Is(err, ErrState) {
			t.Errorf("state %s: %v", st, err)
		}
	}
	c := ready(4)
	c.Impact, c.Fixed = "", ""
	_, err = e.disclose(c, now.Add(22*Day), "force it")
	var re *ReadinessError
	if !errors.As(err, &re) || re.Forceable || !strings.Contains(err.Error(), "impact") || !strings.Contains(err.Error(), "fixed versions") {
		t.Errorf("missing impact: %v", err)
	}
	c = ready(5)
	c.Policy = "nope"
	if _, err := e.disclose(c, now.Add(22*Day), ""); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("unknown policy: %v", err)
	}
	if n := len(e.mails()); n != 0 {
		t.Errorf("%d mails sent for refused plans", n)
	}
	for id := int64(1); id <= 5; id++ {
		if jobs, _ := e.s.Jobs(e.ctx, id); len(jobs) != 0 {
			t.Errorf("case %d: refused plan left jobs %v", id, jobs)
		}
	}
}

// TestForcedPlan: a forced date is accepted with the reason in the audit
// log; a distributor whose key expires before T0 blocks the plan unless
// forced, and then gets nothing while the lead is told.
func TestForcedPlan(t *testing.T) {
	now := utc("2026-11-20 09:30")
	e := newEnv(t, now, "knative")
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	plan, err := e.disclose(c, now.Add(5*Day), "exploit in the wild")
	if err != nil {
		t.Fatal(err)
	}
	containsAll(t, "plan", plan, "FORCED: exploit in the wild", "overrides: the embargo list must be told at least 21 days")
	var audit string
	for _, ev := range e.events(1) {
		if ev.A == "disclose" {
			audit = ev.B
		}
	}
	containsAll(t, "audit", audit, "FORCED: exploit in the wild")

	l := e.dir.lists["embargo"]
	l.Recipients = append(l.Recipients, testRecipient(t, "Old Vendor", "sec@old.example", now.Add(-300*Day), 310*Day))
	c2 := e.newCase(2, "knative", utc("2026-11-16 08:00"))
	_, err = e.disclose(c2, now.Add(22*Day), "")
	var re *ReadinessError
	if !errors.As(err, &re) || !re.Forceable || !strings.Contains(err.Error(), "sec@old.example") {
		t.Fatalf("expiring key: %v", err)
	}
	if _, err := e.disclose(c2, now.Add(22*Day), "vendor notified separately"); err != nil {
		t.Fatal(err)
	}
	ms := e.mails()
	last := ms[len(ms)-1]
	if last.Notice[:13] != "SEC-2026-0002" || strings.Contains(strings.Join(last.Recipients, ","), "old.example") {
		t.Errorf("notice %v", last)
	}
	var alert string
	for _, ev := range e.events(2) {
		if ev.Kind == "alert" {
			alert = ev.A + "\n" + ev.B
		}
	}
	containsAll(t, "alert", alert, "1 recipient skipped", "sec@old.example")
}

func testRecipient(t *testing.T, name, addr string, created time.Time, life time.Duration) (r distlist.Recipient) {
	return distlist.Recipient{Name: name, Address: addr, Key: testKey(t, name, addr, created, life)}
}
