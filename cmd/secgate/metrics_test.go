package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	g := &gateway{db: db, name: "knative", clock: clock.NewFake(now)}
	m, err := newMetrics(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	out := scrape()
	for _, want := range []string{`secgate_imap_connected{project="knative"} 0`, `secgate_scheduler_lag_seconds{project="knative"} 0`, `secgate_delivery_latency_seconds{project="knative",quantile="0.5"} 0`} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q:\n%s", want, out)
		}
	}
	m.imapConnected(true)
	if out := scrape(); !strings.Contains(out, `secgate_imap_connected{project="knative"} 1`) {
		t.Errorf("IMAP state not reported:\n%s", out)
	}
	// Refusals by reason, quarantined messages by reason, jobs by state.
	for _, q := range []string{
		`INSERT INTO case_refusal (code, n) VALUES ('unsigned', 3), ('replay', 1)`,
		`INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, sender, size, sha256, received, state, class, reason)
			VALUES ('INBOX', 1, 1, 'a', 'x@y', 1, x'01', 0, 'quarantined', 'replay', 'r'), ('INBOX', 1, 2, 'b', 'x@y', 1, x'02', 0, 'quarantined', 'replay', 'r')`,
		`INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, created) VALUES (1, 'announcement', 1, 0, 0, 'pending', 0)`,
	} {
		if _, err := db.Writer().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	out = scrape()
	for _, want := range []string{`secgate_command_refusals_total{project="knative",reason="unsigned"} 3`, `secgate_command_refusals_total{project="knative",reason="replay"} 1`,
		`secgate_quarantined_messages{project="knative",reason="replay"} 2`, `secgate_jobs{project="knative",state="pending"} 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q:\n%s", want, out)
		}
	}
}

func TestQuantile(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{5, 1, 4, 2, 3}, 0.99, 4},
		{[]float64{5, 1, 4, 2, 3}, 0, 1},
	} {
		if got := quantile(tt.xs, tt.q); got != tt.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
		}
	}
}
