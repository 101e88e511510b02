package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/secgate/secgate/crypto"
)

// runServe runs the gateway: the IMAP poller, the outbox, the scheduler and
// the metrics endpoint, until SIGINT or SIGTERM. On a signal each part
// finishes what it has in flight (an SMTP transaction, a job) and returns.
func runServe(ctx context.Context, a *app, c *command, args []string) error {
	fs := c.flagSet(a)
	path := configFlag(fs)
	if _, err := c.parse(a, fs, args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if errs := cfg.CheckFiles(a.getenv); len(errs) > 0 {
		return errors.Join(errs...)
	}
	key, err := loadTeamKey(cfg, a.getenv)
	if err != nil {
		return err
	}
	log := a.newLogger(cfg.Gateway.LogLevel)
	memLimit := applyMemoryLimit(cfg.Gateway, a.getenv)
	gcPercent := applyGCPercent(cfg.Gateway, a.getenv)
	// What the operator must fix stops start-up at once: a port that is
	// taken, a database that does not accept writes.
	var metricsLn, pushLn net.Listener
	if addr := cfg.Metrics.Listen; addr != "" {
		if metricsLn, err = listen("metrics.listen", addr); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	if addr := cfg.IMAP.PushListen; addr != "" {
		if pushLn, err = listen("imap.push_listen", addr); err != nil {
			return err
		}
		defer pushLn.Close()
	}
	g, err := openGateway(ctx, cfg, gatewayOptions{Logger: log, TeamKey: key})
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.db.Probe(ctx); err != nil {
		return err
	}
	g.pushLn = pushLn
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merr := make(chan error, 1)
	if metricsLn != nil {
		go func() { merr <- serveOn(ctx, "metrics", metricsLn, g.metrics.handler()) }()
	} else {
		close(merr)
	}
	log.Info("secgate serving", "team", cfg.Gateway.Team, "key", key.Fingerprint(),
		"imap", cfg.IMAP.Address, "smtp", cfg.SMTP.Address, "metrics", cfg.Metrics.Listen, "memory_limit", memoryLimitText(memLimit), "gc_percent", gcPercent)
	err = g.run(ctx)
	cancel()
	err = errors.Join(err, <-merr)
	log.Info("secgate stopped")
	return err
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
	return key, nil
}
