package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// route is one project's database and handler behind a Poller.
type route struct {
	project string // "" for NewPoller's one project
	db      *store.DB
	rest    AtRest
	handler Handler
}

// Route is one project's share of a mailbox several projects share: its
// addresses, and its database, team key and Processor, which nothing of
// another project's ever reaches.
type Route struct {
	// Project is the project's name, as reasons and logs give it.
	Project string
	// Addresses are the addresses whose mail is the project's: its team
	// address, the base of its bounce address (distlist's bounce; VERP
	// bounces are its +detail), and any alias of them that the receiving
	// MTA records. Plus-addressing is allowed for (Routes.Separators).
	Addresses []string
	DB        *store.DB
	AtRest    AtRest  // the project's team key: its mail is stored encrypted to it
	Handler   Handler // the project's *Processor
}

// Routes configures a Poller of a mailbox that several projects share.
type Routes struct {
	Routes []Route
	// Default names the project whose database holds the mail that no
	// project, or several, own (quarantined, class route): its operators
	// see it with `secgate quarantine list` and may release it to handle
	// it as that project's mail. It also holds the mailbox's state (the
	// UIDVALIDITY and the last UID stored). It may be left empty when
	// there is one route.
	Default string
	// Separators are the characters that begin a detail
	// (plus-addressing): DefaultSeparators, "+", when empty.
	Separators string
}

// NewRoutedPoller returns a poller of a mailbox shared by several
// projects: every message it fetches is routed (Router) and stored, before
// anything else happens to it, in the database of the project it was sent
// to, whose Handler then processes it; the mailbox forgets it only once it
// is handled. Mail that no project or several own is stored in the default
// project's database already quarantined, with its reason, and never
// processed: nobody is answered for it. cfg is the shared mailbox's (its
// limits bound what is fetched; each project's Processor has its own).
//
// A project served here must not also be served by another Poller: each
// Poller processes whatever waits in its projects' databases. The
// mailbox's name in the inbound tables is "USER/MAILBOX", so that one
// project's own mailbox and the shared one never mix even if both are
// INBOX.
func NewRoutedPoller(cfg Config, rs Routes, clk clock.Clock, log *slog.Logger) (*Poller, error) {
	if len(rs.Routes) == 0 {
		return nil, errors.New("intake: a routed poller needs at least one route")
	}
	var pas []ProjectAddresses
	var routes []*route
	var home *route
	for i, rt := range rs.Routes {
		if rt.DB == nil || rt.AtRest == nil || rt.Handler == nil {
			return nil, fmt.Errorf("intake: route %q: database, team key and handler are required", rt.Project)
		}
		for _, other := range rs.Routes[:i] {
			if other.DB == rt.DB {
				return nil, fmt.Errorf("intake: routes %q and %q share a database: each project has its own", other.Project, rt.Project)
			}
		}
		pas = append(pas, ProjectAddresses{Project: rt.Project, Addresses: rt.Addresses})
		r := &route{project: rt.Project, db: rt.DB, rest: rt.AtRest, handler: rt.Handler}
		routes = append(routes, r)
		if rt.Project == rs.Default || rs.Default == "" && len(rs.Routes) == 1 {
			home = r
		}
	}
	router, err := NewRouter(pas, rs.Separators)
	if err != nil {
		return nil, err
	}
	if home == nil {
		if rs.Default == "" {
			return nil, errors.New("intake: routes: name the default project, whose quarantine holds the mail no project owns")
		}
		return nil, fmt.Errorf("intake: routes: the default project %q has no route", rs.Default)
	}
	p, err := NewPoller(cfg, home.db, home.rest, home.handler, clk, log)
	if err != nil {
		return nil, err
	}
	p.routes, p.home, p.router = routes, home, router
	p.mailbox = p.cfg.User + "/" + p.cfg.Mailbox
	return p, nil
}

// storeRouted stores each message of a fetched batch in its project's
// database, then advances the mailbox's last UID in the default
// project's: a crash in between fetches the batch again, and each message
// already stored (under its UID, in any project's database; or by its
// hash, in its own) is found, not stored twice.
func (p *Poller) storeRouted(ctx context.Context, uidValidity uint32, msgs []fetched) ([]routeIDs, error) {
	now := p.clock.Now()
	where, err := p.located(ctx, uidValidity, msgs)
	if err != nil {
		return nil, err
	}
	groups := map[*route][]fetched{}
	var last uint32
	for _, m := range msgs {
		last = max(last, m.uid)
		r := where[m.uid]
		if r == nil {
			r = p.routeOne(&m)
		}
		// A message spooled into another project's database than the
		// one that holds it already (stored before a crash) is not
		// stored again: its pieces are left for dropSpool, and any
		// other mismatch fails claimSpool (its pieces are not there).
		groups[r] = append(groups[r], m)
	}
	var out []routeIDs
	// The default project's last: its transaction advances the last UID.
	for _, r := range append(p.routesBut(p.home), p.home) {
		ms := groups[r]
		advance := uint32(0)
		if r == p.home {
			advance = last
		} else if len(ms) == 0 {
			continue
		}
		ids, err := storeMessages(ctx, r.db, r.rest, p.mailbox, uidValidity, ms, now, advance)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			out = append(out, routeIDs{r, ids, handedOver(ms, ids)})
		}
		if r != p.home {
			if err := p.step("stored-in-project"); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// routeOf is the route of the project rt names, the default project's
// when it names none.
func (p *Poller) routeOf(rt Routing) *route {
	for _, r := range p.routes {
		if r.project == rt.Project {
			return r
		}
	}
	return p.home
}

// routeOne decides where m is stored and how (held, or with a note).
func (p *Poller) routeOne(m *fetched) *route {
	rt := p.router.Route(m.header())
	r := p.routeOf(rt)
	log := p.log.With("uid", m.uid, "project", r.project, "by", rt.Field, "address", Printable(rt.Address))
	switch {
	case rt.Quarantined:
		m.held, m.class = true, ClassRoute
		m.reason = rt.Reason + "; held in " + r.project + "'s quarantine, answered to nobody: release it to handle it as " + r.project + "'s mail"
		log.Warn("intake: message held: it cannot be routed to one project", "reason", m.reason)
	case rt.Reason != "":
		m.reason = "route: " + rt.Reason
		log.Info("intake: message routed", "note", rt.Reason)
	default:
		log.Debug("intake: message routed")
	}
	return r
}

// routesBut returns the routes other than r, in order.
func (p *Poller) routesBut(r *route) []*route {
	var out []*route
	for _, o := range p.routes {
		if o != r {
			out = append(out, o)
		}
	}
	return out
}

// located returns the route whose database already holds each of msgs
// under its UID (a batch stored before a crash, before the last UID was
// advanced), so that it stays where it was stored.
func (p *Poller) located(ctx context.Context, uidValidity uint32, msgs []fetched) (map[uint32]*route, error) {
	where := map[uint32]*route{}
	args := []any{p.mailbox, uidValidity}
	for _, m := range msgs {
		args = append(args, m.uid)
	}
	q := `SELECT uid FROM inbound WHERE mailbox = ? AND uidvalidity = ? AND uid IN (?` + strings.Repeat(", ?", len(msgs)-1) + `)`
	for _, r := range p.routes {
		rows, err := r.db.Reader().QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("intake: look up stored uids: %w", err)
		}
		for rows.Next() {
			var uid uint32
			if err := rows.Scan(&uid); err != nil {
				rows.Close()
				return nil, fmt.Errorf("intake: look up stored uids: %w", err)
			}
			if where[uid] == nil {
				where[uid] = r
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("intake: look up stored uids: %w", err)
		}
	}
	return where, nil
}
