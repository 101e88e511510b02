package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/secgate/secgate/store"
)

// metrics serves /healthz and the Prometheus metrics of a gateway. Counts
// are read from the database at scrape time, so they are right after a
// restart and cannot drift from what is stored. Every series carries the
// project's name (project="NAME"): the gateways of one process share one
// registry, where the Go runtime's and the process's collectors are
// registered once (newRegistry).
type metrics struct {
	g        *gateway
	reg      *prometheus.Registry
	imapUp   prometheus.Gauge
	cases    *prometheus.Desc
	outbox   *prometheus.Desc
	inbound  *prometheus.Desc
	latency  *prometheus.Desc
	schedLag *prometheus.Desc
	refused  *prometheus.Desc
	held     *prometheus.Desc
	jobs     *prometheus.Desc
}

// newRegistry returns a process's metrics registry, with the Go runtime's
// and the process's collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// newMetrics registers g's series in reg, labelled with g's project; a nil
// reg is a new one of g's own.
func newMetrics(g *gateway, reg *prometheus.Registry) (*metrics, error) {
	if reg == nil {
		reg = newRegistry()
	}
	m := &metrics{
		g:   g,
		reg: reg,
		imapUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "secgate_imap_connected", Help: "1 while the poller watches the mailbox, 0 while it reconnects.",
		}),
		cases:    prometheus.NewDesc("secgate_cases", "Cases by state.", []string{"state"}, nil),
		outbox:   prometheus.NewDesc("secgate_outbox_messages", "Outbox rows (one per message and recipient) by state.", []string{"state"}, nil),
		inbound:  prometheus.NewDesc("secgate_inbound_messages", "Inbound messages stored, by state and class (reports received: class report).", []string{"state", "class"}, nil),
		latency:  prometheus.NewDesc("secgate_delivery_latency_seconds", "Time from queueing to the SMTP 250 over the last 1000 sent messages: quantiles.", []string{"quantile"}, nil),
		schedLag: prometheus.NewDesc("secgate_scheduler_lag_seconds", "How far past its due time the oldest pending job is (0 when none is late).", nil, nil),
		refused:  prometheus.NewDesc("secgate_command_refusals_total", "Command mails refused, by reason (unsigned, bad-signature, not-bound, untrusted-line, replay, ...).", []string{"reason"}, nil),
		held:     prometheus.NewDesc("secgate_quarantined_messages", "Inbound messages held in quarantine, by reason (the class: replay, nested, limit, malformed, ...).", []string{"reason"}, nil),
		jobs:     prometheus.NewDesc("secgate_jobs", "Timeline jobs by state (pending: still to run).", []string{"state"}, nil),
	}
	r := prometheus.WrapRegistererWith(prometheus.Labels{"project": g.name}, reg)
	for _, c := range []prometheus.Collector{m.imapUp, m, newAckMetrics(g)} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("metrics of project %s: %w", g.name, err)
		}
	}
	return m, nil
}

func (m *metrics) imapConnected(up bool) {
	if up {
		m.imapUp.Set(1)
	} else {
		m.imapUp.Set(0)
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.cases, m.outbox, m.inbound, m.latency, m.schedLag, m.refused, m.held, m.jobs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db := m.g.db.Reader()
	counts := func(d *prometheus.Desc, q string, labels int) {
		vt := prometheus.GaugeValue
		if d == m.refused {
			vt = prometheus.CounterValue
		}
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(d, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var n float64
			l := make([]string, labels)
			dst := []any{&n}
			for i := range l {
				dst = append(dst, &l[i])
			}
			if err := rows.Scan(dst...); err != nil {
				ch <- prometheus.NewInvalidMetric(d, err)
				return
			}
			ch <- prometheus.MustNewConstMetric(d, vt, n, l...)
		}
	}
	counts(m.cases, "SELECT count(*), state FROM cases GROUP BY state", 1)
	// The outbox and inbound counts are kept by triggers (store, schema
	// version 21): a scrape reads a few rows, not a million.
	counts(m.outbox, "SELECT n, state FROM outbox_count WHERE n > 0", 1)
	counts(m.inbound, "SELECT n, state, class FROM inbound_count WHERE n > 0", 2)
	counts(m.held, "SELECT n, class FROM inbound_count WHERE state = 'quarantined' AND n > 0", 1)
	counts(m.jobs, "SELECT count(*), state FROM schedule_job GROUP BY state", 1)
	counts(m.refused, "SELECT n, code FROM case_refusal", 1)

	var lat []float64
	rows, err := db.QueryContext(ctx, "SELECT finished - created FROM outbox WHERE state = 'sent' ORDER BY id DESC LIMIT 1000")
	if err == nil {
		for rows.Next() {
			var ms int64
			if rows.Scan(&ms) == nil {
				lat = append(lat, float64(ms)/1000)
			}
		}
		rows.Close()
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		ch <- prometheus.MustNewConstMetric(m.latency, prometheus.GaugeValue, quantile(lat, q), fmt.Sprint(q))
	}

	var due int64
	err = db.QueryRowContext(ctx, "SELECT coalesce(min(due), 0) FROM schedule_job WHERE state = 'pending'").Scan(&due)
	lag := 0.0
	if err == nil && due != 0 {
		if d := m.g.clock.Now().Sub(store.Time(due)); d > 0 {
			lag = d.Seconds()
		}
	}
	ch <- prometheus.MustNewConstMetric(m.schedLag, prometheus.GaugeValue, lag)
}

// quantile returns the q-quantile of xs (sorted in place), 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[int(q*float64(len(xs)-1))]
}

// handler serves /metrics and /healthz of this gateway alone.
func (m *metrics) handler() http.Handler {
	return metricsHandler(m.reg, []*gateway{m.g})
}

// metricsHandler serves /metrics from reg and /healthz of every gateway of
// the process.
func metricsHandler(reg prometheus.Gatherer, gws []*gateway) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { serveHealth(w, r, gws) })
	return mux
}
