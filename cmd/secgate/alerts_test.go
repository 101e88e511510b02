package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/store"
)

// TestAlertsFromRecordedEvents: delivery problems are told to the team from
// the events the outbox recorded, so one recorded before a stop is told by
// the next gateway; each is told once, and a problem with mail to a member
// is marked told without an alert (an alert about an alert would loop).
func TestAlertsFromRecordedEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	// Recorded by an earlier run that stopped before telling anyone; the
	// first names a case that does not exist, so its alert fails.
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []struct {
		row, caseID int64
		recipient   string
	}{{f.queued, 999, "erin@example.org"}, {f.queued, f.caseID, "dana@example.org"}, {f.failed, f.caseID, "alice@example.org"}} {
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO outbox_event (kind, outbox_id, notice_id, case_id, recipient, reason, created)
			VALUES ('failed', ?, 'notice-1', ?, ?, '550 no such user', 1)`, ev.row, ev.caseID, ev.recipient); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	alerts := func() int {
		var n int
		if err := g.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE kind = 'alert'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := alerts()
	for range 2 {
		if err := g.tellEvents(ctx); err == nil || !strings.Contains(err.Error(), "erin@example.org") {
			t.Errorf("tellEvents: %v, want the failure of erin's event", err)
		}
	}
	if got := alerts() - before; got != 1 {
		t.Errorf("%d alerts queued, want 1 (for dana's failure, once)", got)
	}
	var untold int
	g.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM outbox_event WHERE told = 0`).Scan(&untold)
	if untold != 1 {
		t.Errorf("%d events still untold, want 1 (the one whose alert fails)", untold)
	}
}

// TestWeeklyKeyReport: the key report goes to the team once a week, when
// it has something to say (here the embargo list's expired key), across
// restarts of the gateway.
func TestWeeklyKeyReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	clk := clock.NewFake(fixtureTime)
	open := func() *gateway {
		g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	reports := func(g *gateway) []string {
		rows, err := g.db.Reader().QueryContext(ctx, `SELECT recipient FROM outbox WHERE kind = 'alert' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var to []string
		for rows.Next() {
			var r string
			rows.Scan(&r)
			to = append(to, r)
		}
		return to
	}
	for i, step := range []struct {
		advance time.Duration
		mailed  bool
	}{{0, true}, {time.Hour, false}, {0, false}, {7 * 24 * time.Hour, true}} {
		clk.Advance(step.advance)
		g := open() // a restart between checks
		mailed, err := g.keyReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if mailed != step.mailed {
			t.Errorf("check %d (%s): mailed %v, want %v", i, distlist.ReportWeek(clk.Now()), mailed, step.mailed)
		}
		g.Close()
	}
	g := open()
	defer g.Close()
	if got := reports(g); strings.Join(got, " ") != "alice@example.org bob@example.org alice@example.org bob@example.org" {
		t.Errorf("key reports went to %q, want each member twice (two weeks)", got)
	}
}

// TestAlertsGrouped: the events of one notice make one alert naming every
// recipient: a fan-out to 1,000 distributors that missed its deadline must
// not send the lead 1,000 mails.
func TestAlertsGrouped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, rcpt := range []string{"d1@example.org", "d2@example.org", "d3@example.org"} {
		if _, err := g.db.Writer().ExecContext(ctx, `INSERT INTO outbox_event (kind, outbox_id, notice_id, case_id, recipient, reason, created)
			VALUES ('missed', ?, 'prerelease-1', ?, ?, 'missed: the disclosure time has passed', 1)`, f.queued, f.caseID, rcpt); err != nil {
			t.Fatal(err)
		}
	}
	alerts := func() int {
		var n int
		g.db.Reader().QueryRowContext(ctx, `SELECT count(DISTINCT notice_id) FROM outbox WHERE kind = 'alert'`).Scan(&n)
		return n
	}
	before := alerts()
	if err := g.tellEvents(ctx); err != nil {
		t.Fatal(err)
	}
	var untold int
	g.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM outbox_event WHERE told = 0`).Scan(&untold)
	if n := alerts() - before; n != 1 || untold != 0 {
		t.Errorf("%d alerts for three events of one notice, %d untold; want one alert, all told", n, untold)
	}
}

// stateLookup publishes one key for one address.
type stateLookup struct {
	addr string
	key  []byte
}

func (l stateLookup) Lookup(ctx context.Context, addr string) ([]byte, error) {
	if addr != l.addr {
		return nil, fmt.Errorf("%w: %s", distlist.ErrNotFound, addr)
	}
	return l.key, nil
}

// TestWeeklyKeyRefresh: with [distlist] key_refresh, the weekly key
// report first brings each key up to date from where its holder publishes
// it (here gpg moved a distributor's expiry); without it, nothing is
// looked up.
func TestWeeklyKeyRefresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fpr, older, newer := gpgtest.New(t).KeyStates("Gina <gina@example.org>", "1y", "3y")

	for i, refresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("key_refresh=%v", refresh), func(t *testing.T) {
			cfg, team := f.gatewayConfig(t)
			cfg.Distlist.KeyRefresh = refresh
			clk := clock.NewFake(fixtureTime.AddDate(0, 0, 7*i)) // a week of its own: one report a week
			gw, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team, Clock: clk, KeyLookup: stateLookup{"gina@example.org", newer}})
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close()
			if _, err := gw.dir.AddRecipient(ctx, nil, "embargo", distlist.RecipientSpec{Name: "Gina", Address: "gina@example.org", Key: older}); err != nil {
				t.Fatal(err)
			}
			before, _ := gw.dir.ShowKey(ctx, fpr)
			if _, err := gw.keyReport(ctx); err != nil {
				t.Fatal(err)
			}
			after, err := gw.dir.ShowKey(ctx, fpr)
			if err != nil {
				t.Fatal(err)
			}
			if moved := after.Expires.After(before.Expires.AddDate(1, 0, 0)); moved != refresh {
				t.Errorf("expiry %v, was %v: refreshed %v, want %v", after.Expires, before.Expires, moved, refresh)
			}
		})
	}
}

// TestKeyRefreshBeforeNotice: with key_refresh, a notice to the
// distributors due within a day makes the gateway refresh their keys
// first (gpg moved a distributor's expiry: the new state is on file before
// the notice); nothing due, or a refresh less than 12 hours old, looks
// nothing up. A notice due the moment it is planned is preceded by a
// refresh of its own: the scheduler asks for one before it sends.
func TestKeyRefreshBeforeNotice(t *testing.T) {
	ctx := context.Background()
	for _, at := range []string{"in 3 hours", "now"} {
		t.Run(at, func(t *testing.T) {
			f := newFixture(t)
			fpr, older, newer := gpgtest.New(t).KeyStates("Gina <gina@example.org>", "1y", "3y")
			cfg, team := f.gatewayConfig(t)
			cfg.Distlist.KeyRefresh = true
			clk := clock.NewFake(fixtureTime)
			gw, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team, Clock: clk, KeyLookup: stateLookup{"gina@example.org", newer}})
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close()
			if _, err := gw.dir.AddRecipient(ctx, nil, "embargo", distlist.RecipientSpec{Name: "Gina", Address: "gina@example.org", Key: older}); err != nil {
				t.Fatal(err)
			}
			expiry := func() time.Time {
				k, err := gw.dir.ShowKey(ctx, fpr)
				if err != nil {
					t.Fatal(err)
				}
				return k.Expires
			}
			first := expiry()
			if err := gw.refreshIfNoticeDue(ctx); err != nil || !gw.lastRefresh.IsZero() || !expiry().Equal(first) {
				t.Fatalf("nothing due: refreshed at %v (%v), expiry %v", gw.lastRefresh, err, expiry())
			}
			due := clk.Now().Add(3 * time.Hour)
			if at == "now" {
				due = clk.Now()
			}
			if _, err := gw.db.Writer().ExecContext(ctx, `INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, created)
				VALUES (?, 'embargo-notice', 1, ?, 0, 'pending', ?)`, f.caseID, store.Millis(due), store.Millis(clk.Now())); err != nil {
				t.Fatal(err)
			}
			if at == "now" {
				gw.sched.RunDue(ctx) // the job itself may fail: the fixture's case has no plan
				if !expiry().After(first.AddDate(1, 0, 0)) {
					t.Fatalf("a notice due now went with the keys of the last refresh: expiry %v (was %v)", expiry(), first)
				}
				return
			}
			gw.lastRefresh = clk.Now().Add(-time.Hour)
			if err := gw.refreshIfNoticeDue(ctx); err != nil || !expiry().Equal(first) {
				t.Fatalf("a refresh an hour old was repeated: %v, expiry %v", err, expiry())
			}
			gw.lastRefresh = time.Time{}
			if err := gw.refreshIfNoticeDue(ctx); err != nil || !gw.lastRefresh.Equal(clk.Now()) || !expiry().After(first.AddDate(1, 0, 0)) {
				t.Fatalf("a notice due in 3 hours: refreshed at %v (%v), expiry %v (was %v)", gw.lastRefresh, err, expiry(), first)
			}
		})
	}
}
