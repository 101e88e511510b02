package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/secgate/secgate/intake"
	"github.com/secgate/secgate/store"
)

// A mailbox several projects share (issue #20): the top file's [imap] with
// shared = true is read by one routed poller (intake.NewRoutedPoller) for
// every project whose file sets no imap.user of its own. Each message is
// routed by the address it was delivered for, then To and Cc, against each
// project's routeAddresses, and stored in that project's database,
// encrypted to its key, before that project's Processor alone handles it;
// mail no project, or several, own is quarantined (class route) in the
// project it was delivered for or in imap.default_project's.

// routeAddresses are the addresses whose mail is the project's in a
// shared mailbox: its team, sending and bounce addresses (a VERP bounce is
// the bounce address with a +detail) and [project] addresses, each once.
func (c *Config) routeAddresses() []string {
	dc := c.packageDistlist()
	var out []string
	for _, a := range append([]string{c.Gateway.Team, dc.From, dc.Bounce}, c.Project.Addresses...) {
		if a != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, a) }) {
			out = append(out, a)
		}
	}
	return out
}

// sharedMailbox is the poller of the shared mailbox and the gateways of
// the projects reading it.
type sharedMailbox struct {
	poller  *intake.Poller
	sharing []*gateway
	pushLn  net.Listener // the shared mailbox's imap.push_listen, bound by serve
	log     *slog.Logger
}

// checkSharedSelection refuses to serve some of the projects reading the
// shared mailbox without the others: the one poller would take their mail
// for mail no project owns.
func checkSharedSelection(set *ProjectSet, projects []*Config) error {
	sharing := set.Sharing()
	var missing, served []string
	for _, p := range sharing {
		if slices.Contains(projects, p) {
			served = append(served, p.Name)
		} else {
			missing = append(missing, p.Name)
		}
	}
	if len(served) == 0 || len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("-project %s: the project reads the shared mailbox (imap.shared) with %s, whose mail its one poller routes: serve every project of it (without -project)",
		strings.Join(served, ", "), strings.Join(missing, ", "))
}

// newSharedMailbox builds the poller of the shared mailbox from the
// gateways of the projects reading it; nil when none does.
func newSharedMailbox(set *ProjectSet, gws []*gateway, log *slog.Logger) (*sharedMailbox, error) {
	sm := &sharedMailbox{log: log.With("mailbox", "shared")}
	var routes []intake.Route
	for _, g := range gws {
		if !g.cfg.SharesMailbox {
			continue
		}
		sm.sharing = append(sm.sharing, g)
		routes = append(routes, intake.Route{Project: g.name, Addresses: g.cfg.routeAddresses(), DB: g.db, AtRest: g.teamKey, Handler: g.proc})
	}
	if len(sm.sharing) == 0 {
		return nil, nil
	}
	clk := sm.sharing[0].clock
	p, err := intake.NewRoutedPoller(set.Top.packageIntake(), intake.Routes{Routes: routes, Default: set.DefaultProject()}, clk, sm.log.With("part", "imap"))
	if err != nil {
		return nil, fmt.Errorf("shared mailbox (%s, imap.shared): %w", set.File, err)
	}
	// Its state is every sharing project's: /healthz shows it under each,
	// and secgate_imap_connected{project} is 1 for each while it watches.
	p.OnConnected = func(up bool) {
		for _, g := range sm.sharing {
			g.imapConnected(up)
		}
	}
	sm.poller = p
	return sm, nil
}

// run runs the shared poller, and its push listener when imap.push_listen
// is set, until ctx is done or it fails.
func (sm *sharedMailbox) run(ctx context.Context) error {
	ctx = store.ShortStatements(ctx) // as gateway.run's parts
	if sm.pushLn == nil {
		return sm.poller.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	perr := make(chan error, 1)
	go func() {
		err := serveOn(ctx, "push", sm.pushLn, intake.PushHandler(sm.poller))
		if err != nil && !errors.Is(err, context.Canceled) {
			cancel()
		}
		perr <- err
	}()
	err := sm.poller.Run(ctx)
	cancel()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if pe := <-perr; err == nil && pe != nil && !errors.Is(pe, context.Canceled) {
		err = fmt.Errorf("push: %w", pe)
	}
	return err
}

// names lists the sharing projects.
func (sm *sharedMailbox) names() []string {
	var n []string
	for _, g := range sm.sharing {
		n = append(n, g.name)
	}
	return n
}
