package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// Health tells the truth about each part of a running gateway: /healthz
// answers 200 only while every part is well (or has been unwell for less
// than its grace period), 503 otherwise, with a JSON body naming each part,
// its state and since when; `secgate status` prints the same.

// healthGrace is how long a part may be unwell (IMAP reconnecting, SMTP
// deferring, the scheduler behind) before the gateway reports itself
// unavailable: a routine blip is not an outage.
const healthGrace = 2 * time.Minute

// component is one part's state.
type component struct {
	OK     bool      `json:"ok"`
	State  string    `json:"state"`
	Since  time.Time `json:"since,omitzero"`
	Detail string    `json:"detail,omitempty"`
}

// healthReport is the body of /healthz: ok only while every project of
// the process is well, each project's parts under projects; a gateway of
// one project also gives its parts under components, as it did before
// there could be several.
type healthReport struct {
	Status     string                   `json:"status"` // "ok" or "unavailable"
	Checked    time.Time                `json:"checked"`
	Components map[string]component     `json:"components,omitempty"`
	Projects   map[string]projectHealth `json:"projects,omitempty"`
}

// projectHealth is one project's part of /healthz.
type projectHealth struct {
	Status     string               `json:"status"` // "ok" or "unavailable"
	Team       string               `json:"team,omitempty"`
	Components map[string]component `json:"components"`
}

// health keeps what cannot be read from the database: the IMAP
// connection's state, and whether the gateway stopped on an error while
// the process serves its other projects.
type health struct {
	g *gateway

	mu        sync.Mutex
	imapUp    bool
	imapEver  bool // connected at least once
	imapSince time.Time
	stopped   *component
}

// stop records that the gateway stopped on err: its project is down until
// serve starts again.
func (h *health) stop(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = &component{State: "stopped", Since: h.g.clock.Now(),
		Detail: oneLine(err) + " (the other projects go on; restart secgate serve to start this one again)"}
}

func newHealth(g *gateway) *health {
	return &health{g: g, imapSince: g.clock.Now()}
}

// imapConnected records the poller's connection state.
func (h *health) imapConnected(up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if up != h.imapUp {
		h.imapUp, h.imapSince = up, h.g.clock.Now()
	}
	h.imapEver = h.imapEver || up
}

// report checks every part now.
func (h *health) report(ctx context.Context, now time.Time) projectHealth {
	r := projectHealth{Status: "ok", Components: map[string]component{
		"imap":      h.imap(now),
		"smtp":      h.smtp(ctx, now),
		"scheduler": h.scheduler(ctx, now),
		"database":  h.database(ctx),
	}}
	if h.g.cfg != nil {
		r.Team = h.g.cfg.Gateway.Team
	}
	h.mu.Lock()
	if h.stopped != nil {
		r.Components["gateway"] = *h.stopped
	}
	h.mu.Unlock()
	for _, c := range r.Components {
		if !c.OK {
			r.Status = "unavailable"
		}
	}
	return r
}

func (h *health) imap(now time.Time) component {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.imapUp {
		return component{OK: true, State: "connected", Since: h.imapSince}
	}
	state := "reconnecting"
	if !h.imapEver {
		state = "connecting"
	}
	return component{OK: now.Sub(h.imapSince) < healthGrace, State: state, Since: h.imapSince,
		Detail: "the poller is not watching the mailbox; mail waits on the server"}
}

// smtp is failing when the newest finished attempts were deferred (the
// server answered 4xx, or could not be reached) while mail waits.
func (h *health) smtp(ctx context.Context, now time.Time) component {
	db := h.g.db.Reader()
	var pending int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM outbox_count WHERE state IN ('queued', 'deferred', 'sending')`).Scan(&pending); err != nil {
		return component{State: "unknown", Detail: err.Error()}
	}
	rows, err := db.QueryContext(ctx, `SELECT outcome, finished, reply FROM outbox_attempt WHERE finished > 0 ORDER BY rowid DESC LIMIT 20`)
	if err != nil {
		return component{State: "unknown", Detail: err.Error()}
	}
	defer rows.Close()
	var (
		streak    int
		since     int64
		lastReply string
	)
	for rows.Next() {
		var outcome, reply string
		var finished int64
		if err := rows.Scan(&outcome, &finished, &reply); err != nil {
			return component{State: "unknown", Detail: err.Error()}
		}
		if outcome != "deferred" {
			break
		}
		if streak == 0 {
			lastReply = reply
		}
		streak++
		since = finished
	}
	if streak == 0 || pending == 0 {
		return component{OK: true, State: "sending", Detail: templates.Count(pending, "message") + " waiting"}
	}
	t := store.Time(since)
	return component{OK: now.Sub(t) < healthGrace, State: "deferring", Since: t,
		Detail: fmt.Sprintf("%s deferred, %s waiting; last reply: %s", lastAttempts(streak), templates.Count(pending, "message"), lastReply)}
}

// lastAttempts words the latest n attempts: "the last attempt was",
// "the last 3 attempts were".
func lastAttempts(n int) string {
	if n == 1 {
		return "the last attempt was"
	}
	return fmt.Sprintf("the last %d attempts were", n)
}

// scheduler is lagging when a job is past its due time by more than the
// grace period.
func (h *health) scheduler(ctx context.Context, now time.Time) component {
	var due, pending int64
	err := h.g.db.Reader().QueryRowContext(ctx, `SELECT coalesce(min(due), 0), count(*) FROM schedule_job WHERE state = 'pending'`).Scan(&due, &pending)
	if err != nil {
		return component{State: "unknown", Detail: err.Error()}
	}
	if due == 0 || now.Before(store.Time(due)) {
		return component{OK: true, State: "on time", Detail: templates.Count(int(pending), "job") + " pending"}
	}
	t := store.Time(due)
	return component{OK: now.Sub(t) < healthGrace, State: "behind", Since: t,
		Detail: fmt.Sprintf("the oldest of %s is %s past due", templates.Count(int(pending), "pending job"), now.Sub(t).Round(time.Second))}
}

// database writes one row: it is well only while it accepts writes.
func (h *health) database(ctx context.Context) component {
	err := h.g.db.Probe(ctx)
	since, _ := h.g.db.WriteHealth()
	if err != nil {
		return component{State: "not writable", Since: since,
			Detail: err.Error() + " (mail stays on the server and in the outbox until writes succeed again)"}
	}
	return component{OK: true, State: "writable", Since: since}
}

// healthOf checks every project's gateway now.
func healthOf(ctx context.Context, gws []*gateway) healthReport {
	rep := healthReport{Status: "ok", Projects: map[string]projectHealth{}}
	for i, g := range gws {
		now := g.clock.Now()
		if i == 0 {
			rep.Checked = now
		}
		ph := g.health.report(ctx, now)
		rep.Projects[g.name] = ph
		if ph.Status != "ok" {
			rep.Status = "unavailable"
		}
		if len(gws) == 1 {
			rep.Components = ph.Components
		}
	}
	return rep
}

// serveHealth answers /healthz for the gateways of the process.
func serveHealth(w http.ResponseWriter, r *http.Request, gws []*gateway) {
	rep := healthOf(r.Context(), gws)
	w.Header().Set("Content-Type", "application/json")
	if rep.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}
