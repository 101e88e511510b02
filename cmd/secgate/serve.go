package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/crypto"
)

// runServe runs one gateway per project (the IMAP poller, the outbox, the
// scheduler), and the metrics endpoint for all of them, until SIGINT or
// SIGTERM. On a signal each part finishes what it has in flight (an SMTP
// transaction, a job) and returns.
func runServe(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	sel := configFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	set, err := sel.load()
	if err != nil {
		return err
	}
	projects, err := sel.projects()
	if err != nil {
		return err
	}
	if err := checkSharedSelection(set, projects); err != nil {
		return err
	}
	// What the operator must fix stops start-up at once, naming the
	// project: a file that is missing, a key the passphrase does not
	// unlock, a port that is taken, a database that does not accept
	// writes.
	keys, err := unlockProjects(set, projects, a.getenv, startParallel())
	if err != nil {
		return err
	}
	top := set.Top
	log := a.newLogger(top.Gateway.LogLevel)
	memLimit := applyMemoryLimit(top.Gateway, a.getenv)
	gcPercent := applyGCPercent(top.Gateway, a.getenv)
	var metricsLn net.Listener
	if addr := top.Metrics.Listen; addr != "" {
		if metricsLn, err = listen("metrics.listen", addr); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	var webLn net.Listener
	if top.Web.Listen != "" {
		if webLn, err = listenWeb(top.Web); err != nil {
			return err
		}
		defer webLn.Close()
	}
	pushLns := make([]net.Listener, len(projects))
	var sharedPushLn net.Listener
	if addr := top.IMAP.PushListen; top.IMAP.Shared && addr != "" && len(set.Sharing()) > 0 {
		if sharedPushLn, err = listen("imap.push_listen", addr); err != nil {
			return fmt.Errorf("shared mailbox (%s): %w", set.File, err)
		}
		defer sharedPushLn.Close()
	}
	for i, cfg := range projects {
		if addr := cfg.IMAP.PushListen; addr != "" && !cfg.SharesMailbox {
			if pushLns[i], err = listen("imap.push_listen", addr); err != nil {
				return set.inProject(cfg, err)
			}
			defer pushLns[i].Close()
		}
	}
	reg := newRegistry()
	gws, err := openProjects(ctx, set, projects, startParallel(), func(i int) gatewayOptions {
		return gatewayOptions{Logger: log.With("project", projects[i].Name), TeamKey: keys[i], Metrics: reg, SharedMailbox: projects[i].SharesMailbox}
	})
	if err != nil {
		return err
	}
	defer func() {
		for _, g := range gws {
			g.Close()
		}
	}()
	for i, g := range gws {
		g.pushLn = pushLns[i]
	}
	shared, err := newSharedMailbox(set, gws, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merr := make(chan error, 1)
	if metricsLn != nil {
		go func() { merr <- serveOn(ctx, "metrics", metricsLn, metricsHandler(reg, gws)) }()
	} else {
		close(merr)
	}
	werr := make(chan error, 1)
	if webLn != nil {
		h, err := webHandler(gws, log)
		if err != nil {
			return err
		}
		go func() { werr <- serveOn(ctx, "web", webLn, h) }()
	} else {
		close(werr)
	}
	for i, g := range gws {
		cfg := g.cfg
		mailbox := "own"
		if cfg.SharesMailbox {
			mailbox = "shared"
		}
		g.log.Info("secgate serving", "team", cfg.Gateway.Team, "key", keys[i].Fingerprint(), "database", cfg.Gateway.Database,
			"imap", cfg.IMAP.Address, "mailbox", mailbox, "smtp", cfg.SMTP.Address, "metrics", top.Metrics.Listen, "memory_limit", memoryLimitText(memLimit), "gc_percent", gcPercent)
	}
	// Each project runs on its own: one that stops on an error (a part
	// that failed) is logged and shown down in /healthz while the others
	// go on serving.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	// The projects reading the shared mailbox stop together when its
	// poller fails: none of them would get mail.
	sharedCtx, sharedCancel := context.WithCancel(ctx)
	defer sharedCancel()
	if shared != nil {
		shared.pushLn = sharedPushLn
		shared.log.Info("secgate serving the shared mailbox", "imap", top.IMAP.Address, "user", top.IMAP.User,
			"projects", strings.Join(shared.names(), ","), "default", set.DefaultProject())
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := shared.run(sharedCtx)
			if err == nil || errors.Is(err, context.Canceled) {
				return
			}
			err = fmt.Errorf("shared mailbox (projects %s): %w", strings.Join(shared.names(), ", "), err)
			shared.log.Error("shared mailbox stopped; its projects stop, the others go on", "err", err)
			for _, g := range shared.sharing {
				g.health.stop(err)
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			sharedCancel()
		}()
	}
	for _, g := range gws {
		gctx := ctx
		if g.cfg.SharesMailbox {
			gctx = sharedCtx
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.run(gctx)
			if err == nil {
				return
			}
			if len(gws) > 1 {
				g.log.Error("project stopped; the others go on", "err", err)
				err = fmt.Errorf("project %s: %w", g.name, err)
			}
			g.health.stop(err)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	cancel()
	err = errors.Join(append(errs, <-merr, <-werr)...)
	log.Info("secgate stopped")
	return err
}

// inProject says which project err is about, when there are several.
func (s *ProjectSet) inProject(cfg *Config, err error) error {
	switch {
	case !s.Several():
		return err
	case strings.HasPrefix(err.Error(), cfg.File+":"):
		return fmt.Errorf("project %s: %w", cfg.Name, err) // the error names the file
	}
	return fmt.Errorf("project %s (%s): %w", cfg.Name, cfg.File, err)
}

// distinctKeys refuses two projects with the same team key: each
// project's reports are encrypted to its own key, which no other
// project's gateway may hold.
func distinctKeys(projects []*Config, keys []*crypto.Key) error {
	seen := map[string]*Config{}
	for i, k := range keys {
		if k == nil {
			continue
		}
		if o, ok := seen[k.Fingerprint()]; ok {
			return fmt.Errorf("project %s (%s): team_key.path %s: team key %s is also project %s's (%s): each project has its own",
				projects[i].Name, projects[i].File, projects[i].TeamKey.Path, k.Fingerprint(), o.Name, o.TeamKey.Path)
		}
		seen[k.Fingerprint()] = projects[i]
	}
	return nil
}

// loadTeamKey reads the team key with its passphrase and checks that it can
// be used now.
func loadTeamKey(cfg *Config, getenv func(string) string) (*crypto.Key, error) {
	pass, err := cfg.Passphrase(getenv)
	if err != nil {
		return nil, err
	}
	key, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, pass)
	if err != nil {
		return nil, fmt.Errorf("team_key.path %s: %w", cfg.TeamKey.Path, err)
	}
	if err := key.Check(time.Now()); err != nil {
		return nil, fmt.Errorf("team_key.path %s: team key %s: %w", cfg.TeamKey.Path, key.Fingerprint(), err)
	}
	prev, err := loadPreviousKeys(cfg, pass)
	if err != nil {
		return nil, err
	}
	return key.WithPrevious(prev...), nil
}
