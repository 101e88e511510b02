package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// TestHealthTellsTheTruth: /healthz is 200 only while every part is well
// or unwell for less than the grace period; otherwise 503, naming the part,
// its state and since when.
func TestHealthTellsTheTruth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	clk := clock.NewFake(fixtureTime)
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.metrics.handler())
	defer srv.Close()
	get := func() (int, healthReport) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r healthReport
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := g.db.Writer().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	want := func(step string, code int, part string, ok bool, state string) {
		t.Helper()
		got, r := get()
		c := r.Components[part]
		if got != code || c.OK != ok || c.State != state {
			t.Errorf("%s: %d, %s %+v; want %d, %s ok=%v %q", step, got, part, c, code, part, ok, state)
		}
	}

	// The poller has not connected yet: well within the grace period.
	want("start", http.StatusOK, "imap", true, "connecting")
	clk.Advance(healthGrace + time.Second)
	want("IMAP unreachable past the grace period", http.StatusServiceUnavailable, "imap", false, "connecting")
	g.health.imapConnected(true)
	want("connected", http.StatusOK, "imap", true, "connected")
	g.health.imapConnected(false)
	want("reconnecting", http.StatusOK, "imap", true, "reconnecting")
	clk.Advance(healthGrace + time.Second)
	want("reconnecting past the grace period", http.StatusServiceUnavailable, "imap", false, "reconnecting")
	g.health.imapConnected(true)

	// The submission server defers while mail waits (the fixture has a
	// queued row).
	now := store.Millis(clk.Now())
	exec(`INSERT INTO outbox_attempt (outbox_id, n, started, finished, outcome, reply) VALUES (?, 90, ?, ?, 'sent', '250 ok')`, f.queued, now-10, now-10)
	exec(`INSERT INTO outbox_attempt (outbox_id, n, started, finished, outcome, reply) VALUES (?, 91, ?, ?, 'deferred', '451 try later')`, f.queued, now, now)
	want("one deferral", http.StatusOK, "smtp", true, "deferring")
	clk.Advance(healthGrace + time.Second)
	want("deferring past the grace period", http.StatusServiceUnavailable, "smtp", false, "deferring")
	if _, r := get(); !strings.Contains(r.Components["smtp"].Detail, "451 try later") {
		t.Errorf("the smtp detail does not say what the server answered: %q", r.Components["smtp"].Detail)
	}
	now = store.Millis(clk.Now())
	exec(`INSERT INTO outbox_attempt (outbox_id, n, started, finished, outcome, reply) VALUES (?, 92, ?, ?, 'sent', '250 ok')`, f.queued, now, now)
	want("sending again", http.StatusOK, "smtp", true, "sending")

	// A job past its due time by more than the grace period.
	exec(`INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, created) VALUES (?, 'announcement', 1, ?, 0, 'pending', ?)`,
		f.caseID, now-int64(10*time.Second/time.Millisecond), now)
	want("a job just due", http.StatusOK, "scheduler", true, "behind")
	clk.Advance(healthGrace)
	want("scheduler behind", http.StatusServiceUnavailable, "scheduler", false, "behind")
	exec(`UPDATE schedule_job SET state = 'done'`)
	want("all well", http.StatusOK, "database", true, "writable")
}

// TestStatus: `secgate status` prints what the running gateway's /healthz
// says, and exits 1 while a part is down.
func TestStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	clk := clock.NewFake(fixtureTime)
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.metrics.handler())
	defer srv.Close()
	_, cfgPath, _ := initDir(t)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`(?m)^listen = "127\.0\.0\.1:9464"$`).ReplaceAllLiteralString(string(b), `listen = "`+strings.TrimPrefix(srv.URL, "http://")+`"`)
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	g.health.imapConnected(true)
	code, stdout, stderr := runCLI(t, nil, "status", "-config", cfgPath)
	if code != 0 || !strings.Contains(stdout, "secgate ok") || !strings.Contains(stdout, "ok   imap       connected") {
		t.Errorf("all well: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	g.health.imapConnected(false)
	clk.Advance(healthGrace + time.Second)
	code, stdout, stderr = runCLI(t, nil, "status", "-config", cfgPath)
	if code != 1 || !strings.Contains(stdout, "secgate unavailable") || !strings.Contains(stdout, "DOWN imap       reconnecting since") ||
		!strings.Contains(stderr, "unavailable") {
		t.Errorf("IMAP down: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
