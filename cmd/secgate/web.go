package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/web"
)

// WebConfig is the [web] section: the read-only view secgate serve serves.
type WebConfig struct {
	Listen   string `toml:"listen" doc:"host:port serving the read-only web view; empty disables it. A loopback address unless client_ca is set (127.0.0.1:9465, say)."`
	TLSCert  string `toml:"tls_cert" doc:"PEM certificate of the web view, for HTTPS; needed with client_ca."`
	TLSKey   string `toml:"tls_key" doc:"PEM private key of tls_cert."`
	ClientCA string `toml:"client_ca" doc:"PEM certificate of the CA that signs the members' (or an authenticating reverse proxy's) client certificates: a connection without one is refused. Needed for a non-loopback listen."`
	WKD      bool   `toml:"wkd" doc:"Also serve the Web Key Directory of the team keys under /.well-known/openpgpkey/ (both methods, as secgate wkd export writes it), for a web server of the domain to pass on; public keys only, answered whatever the Host."`
}

func (w WebConfig) access() web.Access {
	return web.Access{TLSCert: w.TLSCert, TLSKey: w.TLSKey, ClientCA: w.ClientCA}
}

// check says what is wrong with the section, and under which key.
func (w WebConfig) check(taken ...string) (string, error) {
	if w.Listen == "" {
		return "", nil
	}
	for _, t := range taken {
		if t == w.Listen {
			return "web.listen", fmt.Errorf("%q is also served by another listener (metrics.listen, imap.push_listen)", w.Listen)
		}
	}
	if err := w.access().Check(w.Listen); err != nil {
		return "web.listen", err
	}
	return "", nil
}

// listenWeb binds web.listen, wrapped in TLS when the section says so: a
// taken port or an unreadable certificate stops start-up.
func listenWeb(w WebConfig) (net.Listener, error) {
	ln, err := listen("web.listen", w.Listen)
	if err != nil {
		return nil, err
	}
	wl, err := w.access().Listener(ln)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("web: %w", err)
	}
	return wl, nil
}

// webHandler returns the read-only view of the gateways' projects. It is
// given readers of each project's database only, built without the team
// key (the cases' encrypted content reads as sealed), never the gateway.
func webHandler(gws []*gateway, log *slog.Logger) (http.Handler, error) {
	var projects []web.Project
	for _, g := range gws {
		p, err := webProject(g.cfg, g.db)
		if err != nil {
			return nil, fmt.Errorf("web: project %s: %w", g.name, err)
		}
		projects = append(projects, p)
	}
	h, err := web.New(web.Options{Projects: projects, Logger: log.With("part", "web")})
	if err != nil || len(gws) == 0 || !gws[0].cfg.Web.WKD {
		return h, err
	}
	var cfgs []*Config
	for _, g := range gws {
		cfgs = append(cfgs, g.cfg)
	}
	return withWKD(h, cfgs)
}

// withWKD serves the Web Key Directory of the projects' team keys under
// /.well-known/openpgpkey/ beside h. The directory holds public keys
// alone and its requests name a domain in their Host (the direct
// method), so it is answered before the view's checks.
func withWKD(h http.Handler, cfgs []*Config) (http.Handler, error) {
	w, _, err := buildWKD(cfgs)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/openpgpkey/", w)
	mux.Handle("/", h)
	return mux, nil
}

// webProject returns the readers of cfg's project over db.
func webProject(cfg *Config, db *store.DB) (web.Project, error) {
	v := &view{cfg: cfg, db: db, dir: distlist.NewDirectory(db, nil, nil)}
	w, err := v.workflow()
	if err != nil {
		return web.Project{}, err
	}
	s, err := v.scheduler()
	if err != nil {
		return web.Project{}, err
	}
	team, err := v.teamVerifier(context.Background())
	if err != nil {
		return web.Project{}, err
	}
	return web.Project{Name: cfg.projectName(), Team: cfg.Gateway.Team, Cases: w, Timeline: s, Directory: v.dir,
		Outbox: outboxRows{db}, Quarantine: intake.NewQuarantine(db, nil), Audit: auditReader{w, team}, Acks: ackReader{s}}, nil
}

// ackReader reads the acknowledgements the scheduler recorded.
type ackReader struct{ s *schedule.Scheduler }

func (a ackReader) Acks(ctx context.Context, caseID int64) ([]web.Ack, error) {
	as, err := a.s.Acks(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var out []web.Ack
	for _, x := range as {
		if !x.Acknowledged.IsZero() {
			out = append(out, web.Ack{NoticeID: x.NoticeID, Recipient: x.Recipient, At: x.Acknowledged})
		}
	}
	return out, nil
}

// outboxRows lists a database's outbox rows, without an outbox.
type outboxRows struct{ db *store.DB }

func (o outboxRows) Rows(ctx context.Context, f distlist.RowFilter) ([]distlist.Row, error) {
	return distlist.OutboxRows(ctx, o.db, f)
}

// auditReader verifies a case's audit chain against the team's public
// key, as secgate case show does.
type auditReader struct {
	w    *cases.Workflow
	team *crypto.Key
}

func (a auditReader) VerifyCaseAudit(ctx context.Context, caseID int64) (*cases.AuditCheck, error) {
	return a.w.VerifyCaseAudit(ctx, a.team, caseID)
}
