package schedule

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// stepsEnv is a knative scheduler over the real outbox, at now, with an
// embargo list of two distributors (the server defers the second for
// good) and a public list; flush runs the outbox once.
type stepsEnv struct {
	*env
	flush func()
}

func newStepsEnv(t *testing.T, now time.Time) *stepsEnv {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(now)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Writer().ExecContext(ctx, testSchema); err != nil {
		t.Fatal(err)
	}
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	key := func(addr string) *crypto.Key {
		k, err := crypto.GenerateKey("", addr, crypto.GenerateOptions{Created: now.Add(-Day)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	armor := func(k *crypto.Key) []byte {
		a, err := k.ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		return []byte(a)
	}
	team, lead := key("security@example.org"), key("alice@team.example")
	dir := distlist.NewDirectory(db, clk, nil)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: "Alice Lead", Address: "alice@team.example", Role: distlist.RoleLead, Key: armor(lead)}); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "embargo", distlist.KindEmbargo, ""); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "announce", distlist.KindPublic, ""); err != nil {
			return err
		}
		for _, addr := range []string{"sec@vendor1.example", "temperror@vendor2.example"} {
			if _, err := dir.AddRecipient(ctx, tx, "embargo", distlist.RecipientSpec{Address: addr, Key: armor(key(addr))}); err != nil {
				return err
			}
		}
		_, err := dir.AddRecipient(ctx, tx, "announce", distlist.RecipientSpec{Address: "announce@lists.example"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: dir, TeamKey: team, Clock: clk,
		Config: distlist.Config{From: "security@example.org", SMTP: distlist.SMTPConfig{Addr: sink.Addr, TLS: distlist.TLSNone}}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCases{clk: clk, m: map[int64]*cases.Case{}}
	s, err := New(Options{DB: db, Directory: dir, Outbox: ob, Cases: fc, Templates: set, Clock: clk,
		Project: templates.Project{Name: "Example"}, TeamAddress: "security@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, clk: clk, cases: fc, s: s, lead: distlist.Member{Fingerprint: lead.Fingerprint()}}
	return &stepsEnv{env: e, flush: func() {
		t.Helper()
		if err := ob.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}}
}

// TestSteps runs a knative timeline through the real outbox into a server
// that defers one distributor for good, moves the date once the
// pre-release notice is queued, and lets the gateway be down past the new
// date. Steps then tells each step, past and planned, with each
// recipient's delivery: the first plan's steps still pending cancelled and
// its queued pre-release notice withdrawn, the deferred distributor's
// embargo and date change notices missed in the outbox, the new
// pre-release notice missed by the scheduler, the rest done or planned.
func TestSteps(t *testing.T) {
	e := newStepsEnv(t, utc("2026-11-20 09:30"))
	ctx, clk, s, flush := e.ctx, e.clk, e.s, e.flush
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	check := func(want ...string) {
		t.Helper()
		e.checkSteps(c, want...)
	}
	if _, err := e.disclose(c, utc("2026-12-11 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	check(
		"2026-11-20 09:30:00 embargo-notice embargo notice done [embargo] embargo/sec@vendor1.example:queued@11-20 09:30 embargo/temperror@vendor2.example:queued@11-20 09:30",
		"2026-11-20 09:30:00 pre-announcement pre-announcement of the release date done [announce] announce/announce@lists.example:queued@11-20 09:30",
		"2026-12-10 16:00:00 prerelease-notice pre-release notice (1 day before T0) planned [embargo]",
		"2026-12-11 16:00:00 announcement announcement (T0) planned [announce,embargo]",
		"2026-12-12 16:00:00 retrospective retrospective reminder (window opens) planned [lead]",
		"2026-12-14 16:00:00 retrospective retrospective reminder (window closes) planned [lead]",
	)
	clk.Set(utc("2026-11-20 09:31"))
	flush()
	e.advance(utc("2026-12-10 16:00")) // the pre-release notice is queued, not sent
	clk.Set(utc("2026-12-10 16:01"))
	if _, err := e.disclose(c, utc("2026-12-12 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	flush()
	// The gateway is down past the new date; when it comes back, the
	// outbox runs first.
	clk.Set(utc("2026-12-12 17:00"))
	flush()
	if _, err := s.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Set(utc("2026-12-12 17:01"))
	flush()
	check(
		"2026-11-20 09:30:00 embargo-notice embargo notice done [embargo] embargo/sec@vendor1.example:sent@11-20 09:31 embargo/temperror@vendor2.example:missed@12-12 17:00",
		"2026-11-20 09:30:00 pre-announcement pre-announcement of the release date done [announce] announce/announce@lists.example:sent@11-20 09:31",
		"2026-12-10 16:00:00 prerelease-notice pre-release notice (1 day before T0) done [embargo] embargo/sec@vendor1.example:withdrawn@12-10 16:01 embargo/temperror@vendor2.example:withdrawn@12-10 16:01",
		"2026-12-10 16:01:00 embargo-change date change notice done [embargo] embargo/sec@vendor1.example:sent@12-10 16:01 embargo/temperror@vendor2.example:missed@12-12 17:00",
		"2026-12-10 16:01:00 pre-announcement pre-announcement of the new release date done [announce] announce/announce@lists.example:sent@12-10 16:01",
		"2026-12-11 16:00:00 prerelease-notice pre-release notice (1 day before T0) missed [embargo]",
		"2026-12-11 16:00:00 announcement announcement (T0) cancelled [announce,embargo]",
		"2026-12-12 16:00:00 announcement announcement (T0) done [announce,embargo] announce/announce@lists.example:sent@12-12 17:01 embargo/sec@vendor1.example:sent@12-12 17:01 embargo/temperror@vendor2.example:deferred@12-12 17:01",
		"2026-12-12 16:00:00 retrospective retrospective reminder (window opens) cancelled [lead]",
		"2026-12-13 16:00:00 retrospective retrospective reminder (window opens) planned [lead]",
		"2026-12-14 16:00:00 retrospective retrospective reminder (window closes) cancelled [lead]",
		"2026-12-15 16:00:00 retrospective retrospective reminder (window closes) planned [lead]",
	)
}

// TestStepState: a job's state is the step's, except that a pending job is
// planned and a notice skipped because its disclosure time had passed
// was missed.
func TestStepState(t *testing.T) {
	for _, tt := range []struct {
		kind, state, result, want string
	}{
		{JobEmbargoNotice, JobPending, "", StepPlanned},
		{JobAnnouncement, JobPending, "attempt failed: disk full", StepPlanned},
		{JobEmbargoNotice, JobDone, "sent to 2 distributors, 0 skipped", StepDone},
		{JobPreReleaseNotice, JobSkipped, "disclosure time 2026-12-11 16:00 UTC has passed: an embargoed notice is never sent after the announcement", StepMissed},
		{JobEmbargoChange, JobSkipped, "disclosure time has passed", StepMissed},
		{JobPreReleaseNotice, JobSkipped, "already published", StepSkipped},
		{JobRetrospective, JobSkipped, "the case is closed", StepSkipped},
		{JobAnnouncement, JobCancelled, "re-planned by X", StepCancelled},
		{JobAnnouncement, JobFailed, "smtp down", StepFailed},
	} {
		if got := stepState(Job{Kind: tt.kind, State: tt.state, Result: tt.result}); got != tt.want {
			t.Errorf("%s %s %q: %s, want %s", tt.kind, tt.state, tt.result, got, tt.want)
		}
	}
}

// checkSteps compares the steps of c, one line each, with want.
func (e *stepsEnv) checkSteps(c *cases.Case, want ...string) {
	e.t.Helper()
	st, err := e.s.Steps(e.ctx, c)
	if err != nil {
		e.t.Fatal(err)
	}
	var got []string
	for _, x := range st {
		line := fmt.Sprintf("%s %s %s %s [%s]", x.Due.Format("2006-01-02 15:04:05"), x.Kind, x.What, x.State, strings.Join(x.Audience, ","))
		for _, d := range x.Mail {
			line += fmt.Sprintf(" %s/%s:%s@%s", d.Audience, d.Recipient, d.Outcome, d.At().Format("01-02 15:04"))
		}
		got = append(got, line)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		e.t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStepsNoticeWaits: an embargo notice that waits for the policy's
// longest embargo has its pre-announcement planned with it; /notify sends
// both at once and cancels the wait.
func TestStepsNoticeWaits(t *testing.T) {
	e := newStepsEnv(t, utc("2026-11-20 09:30"))
	c := e.newCase(1, "knative", utc("2026-11-16 08:00"))
	if _, err := e.disclose(c, utc("2027-01-15 16:00"), ""); err != nil {
		t.Fatal(err)
	}
	e.checkSteps(c,
		"2026-12-18 16:00:00 embargo-notice embargo notice planned [embargo]",
		"2026-12-18 16:00:00 pre-announcement pre-announcement of the release date planned [announce]",
		"2027-01-14 16:00:00 prerelease-notice pre-release notice (1 day before T0) planned [embargo]",
		"2027-01-15 16:00:00 announcement announcement (T0) planned [announce,embargo]",
		"2027-01-16 16:00:00 retrospective retrospective reminder (window opens) planned [lead]",
		"2027-01-18 16:00:00 retrospective retrospective reminder (window closes) planned [lead]",
	)
	err := e.tx(func(tx *sql.Tx) error {
		return e.s.NotifyNow(e.ctx, tx, c, "the distributors asked", e.lead.Fingerprint)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.checkSteps(c,
		"2026-11-20 09:30:00 embargo-notice embargo notice (/notify) done [embargo] embargo/sec@vendor1.example:queued@11-20 09:30 embargo/temperror@vendor2.example:queued@11-20 09:30",
		"2026-11-20 09:30:00 pre-announcement pre-announcement of the release date done [announce] announce/announce@lists.example:queued@11-20 09:30",
		"2026-12-18 16:00:00 embargo-notice embargo notice cancelled [embargo]",
		"2027-01-14 16:00:00 prerelease-notice pre-release notice (1 day before T0) planned [embargo]",
		"2027-01-15 16:00:00 announcement announcement (T0) planned [announce,embargo]",
		"2027-01-16 16:00:00 retrospective retrospective reminder (window opens) planned [lead]",
		"2027-01-18 16:00:00 retrospective retrospective reminder (window closes) planned [lead]",
	)
}
