package main

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/templates"
)

// Start-up of several projects (issue #20): what serve does for every
// project before it serves, which secgate bench -projects times by the same
// functions. Each project's start is its own (its files, its key, its
// database), so projects start several at a time; what is the same for
// every project (the templates of one directory, the parsed key of a key
// file several projects name) is read and checked once, in startShared.

// startParallel is how many projects start at a time: unlocking a key is
// CPU (its S2K), opening a gateway is CPU and a few fsyncs of its
// database, so a few more than the cores.
func startParallel() int { return min(max(runtime.GOMAXPROCS(0)*2, 4), 16) }

// eachProject runs f(0) to f(n-1), par at a time, starting them in order.
// Once one fails no other starts, and it returns the error of the first
// project, in order, that failed: the one a start one project after
// another would have stopped at, whichever finished first.
func eachProject(n, par int, f func(i int) error) error {
	for _, err := range runEach(n, par, true, f) {
		if err != nil {
			return err
		}
	}
	return nil
}

// runEach runs f(0) to f(n-1), par at a time, starting them in order, and
// returns their errors by index; with stop, none starts once one failed.
func runEach(n, par int, stop bool, f func(i int) error) []error {
	errs := make([]error, n)
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Bool
	)
	for range min(max(par, 1), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !(stop && failed.Load()) {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if errs[i] = f(i); errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// unlockProjects checks every project's files and unlocks its team key, par
// projects at a time; the first project that fails stops it, with one
// error naming the project. Two projects with the same team key are
// refused.
func unlockProjects(set *ProjectSet, projects []*Config, getenv func(string) string, par int) ([]*crypto.Key, error) {
	keys := make([]*crypto.Key, len(projects))
	err := eachProject(len(projects), par, func(i int) error {
		cfg := projects[i]
		if errs := cfg.CheckFiles(getenv); len(errs) > 0 {
			return set.inProject(cfg, errors.Join(errs...))
		}
		var err error
		if keys[i], err = loadTeamKey(cfg, getenv); err != nil {
			return set.inProject(cfg, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := distinctKeys(projects, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// openProjects opens the gateway of every project, par at a time, with the
// options opts gives it, and probes its database; the first project that
// fails stops it, with one error naming the project, and every gateway
// opened is closed again.
func openProjects(ctx context.Context, set *ProjectSet, projects []*Config, par int, opts func(i int) gatewayOptions) ([]*gateway, error) {
	shared := newStartShared()
	gws := make([]*gateway, len(projects))
	err := eachProject(len(projects), par, func(i int) error {
		cfg := projects[i]
		o := opts(i)
		o.Shared = shared
		g, err := openGateway(ctx, cfg, o)
		if err != nil {
			return set.inProject(cfg, err)
		}
		gws[i] = g
		if err := g.db.Probe(ctx); err != nil {
			return set.inProject(cfg, err)
		}
		return nil
	})
	if err != nil {
		for _, g := range gws {
			if g != nil {
				g.Close()
			}
		}
		return nil, err
	}
	return gws, nil
}

// startShared is what the gateways of one start share: the templates of
// each directory, loaded and checked once, and the parsed keys of the key
// files. Each is immutable and safe for concurrent use; neither holds a
// secret.
type startShared struct {
	keyFiles *distlist.KeyFiles

	mu  sync.Mutex
	tpl map[string]func() (*templates.Set, error)
}

func newStartShared() *startShared {
	return &startShared{keyFiles: distlist.NewKeyFiles(), tpl: map[string]func() (*templates.Set, error){}}
}

// templates returns the templates of dir (the built-in ones when dir is
// empty), loaded the first time a gateway asks.
func (s *startShared) templates(dir string) (*templates.Set, error) {
	s.mu.Lock()
	load, ok := s.tpl[dir]
	if !ok {
		load = sync.OnceValues(func() (*templates.Set, error) { return templates.Load(dir) })
		s.tpl[dir] = load
	}
	s.mu.Unlock()
	return load()
}
