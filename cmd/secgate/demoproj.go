package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/schedule"
)

// The demo of several projects (secgate demo -projects, or -preset with
// several presets): one gateway process holding a project per preset, each
// with its own team key, address, members, announcement list, case prefix
// and database, the reporter and the distributors shared. Each project runs
// the same case lifecycle as the one-project demo, interleaved with the
// others' on the same simulated clock (demoturns.go): both cases are open
// at once and progress together while every gateway runs.

// demoProjectPresets are the presets of -projects.
var demoProjectPresets = []string{"knative", "kata"}

// demoCasePrefix is each preset's [project] case_prefix in the demo of
// several projects.
var demoCasePrefix = map[string]string{"knative": "KN", "kata": "KATA", "kubeedge": "KE"}

// defaults gives a demo of one project its identity: the Demo project at
// demo.test, as it always was.
func (d *demo) defaults() {
	if d.project == "" {
		d.project = "Demo"
	}
	if d.domain == "" {
		d.domain = "demo.test"
	}
	if d.people == nil {
		d.people = map[string]*crypto.Key{}
	}
}

func (d *demo) teamAddr() string { return "security@" + d.domain }
func (d *demo) announce() string { return "announce@lists." + d.domain }

// member returns the address of the i-th member (0: Alice, 1: Bob).
func (d *demo) member(i int) string {
	return d.addr([]string{"alice@demo.test", "bob@demo.test"}[i])
}

// addr puts an address of demo.test in the project's domain; the others
// (the reporter, the distributors) are every project's.
func (d *demo) addr(a string) string {
	if local, ok := strings.CutSuffix(a, "@demo.test"); ok {
		return local + "@" + d.domain
	}
	return a
}

// owner returns the project a delivery belongs to: the one whose team
// address received it, or whose outbox sent it; nil when none.
func (d *demo) owner(dl delivery) *demo {
	if len(d.peers) < 2 {
		return d
	}
	for _, p := range d.peers {
		if dl.To == p.teamAddr() {
			return p
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(dl.Raw))
	if err != nil {
		return nil
	}
	id := strings.Trim(msg.Header.Get("Message-Id"), "<> ")
	for _, p := range d.peers {
		var n int
		if p.g != nil && p.g.db.Reader().QueryRow("SELECT count(*) FROM outbox WHERE message_id = ?", id).Scan(&n) == nil && n > 0 {
			return p
		}
	}
	return nil
}

// deliveries returns the project's deliveries: everything with one
// project, with several those it sent or received.
func (d *demo) deliveries() []delivery {
	ds := d.mail.Deliveries()
	if len(d.peers) < 2 {
		return ds
	}
	return slices.DeleteFunc(ds, func(dl delivery) bool { return d.owner(dl) != d })
}

// runDemoProjects runs the demo of several projects, one per preset, in
// one gateway process configured as serve is ([gateway] projects).
func runDemoProjects(ctx context.Context, out io.Writer, dir string, presets []string, log *slog.Logger) error {
	start := time.Now().UTC().Truncate(time.Minute)
	ck := clock.NewFake(start)
	m, err := startDemoMail(ck)
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(out, "secgate demo: %d projects in one gateway process (%s), each with its own team key, address, members,\n"+
		"case prefix and database; the reporter and the distributors are on every project's lists. Simulated time from %s\n",
		len(presets), strings.Join(presets, ", "), start.Format("2006-01-02 15:04 MST"))
	pdir := filepath.Join(dir, "projects")
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return err
	}
	top := filepath.Join(dir, "secgate.toml")
	if err := os.WriteFile(top, []byte("# secgate demo configuration of several projects (generated)\n[gateway]\nprojects = \"projects\"\n\n[metrics]\nlisten = \"\"\n"), 0o600); err != nil {
		return err
	}
	people := map[string]*crypto.Key{}
	var ds []*demo
	for _, preset := range presets {
		name := preset
		d := &demo{out: out, dir: filepath.Join(pdir, name), preset: preset, log: log, clock: ck, mail: m,
			project: strings.ToUpper(name[:1]) + name[1:], domain: name + ".demo.test", tag: "[" + name + "] ",
			prefix: demoCasePrefix[preset], paths: name + "/", cfgFile: filepath.Join(pdir, name+".toml"), people: people}
		if err := os.MkdirAll(d.dir, 0o700); err != nil {
			return err
		}
		m.user(d.teamAddr())
		d.step("Setup: the " + d.project + " project (" + preset + " policy, cases " + d.prefix + "-YYYY-NNNN), team " + d.teamAddr())
		if _, err := d.setup(start); err != nil {
			return err
		}
		ds = append(ds, d)
	}
	for _, d := range ds {
		d.peers = ds
	}
	set, err := LoadProjects(top)
	if err != nil {
		return err
	}
	reg := newRegistry()
	for _, d := range ds {
		cfg := set.Project(d.preset)
		if cfg == nil {
			return fmt.Errorf("demo: no project %s in %s", d.preset, set.Names())
		}
		stop, err := d.startGateway(ctx, cfg, reg)
		if err != nil {
			return fmt.Errorf("project %s: %w", d.preset, err)
		}
		defer stop()
	}
	type result struct {
		c    *cases.Case
		lead string
		tl   schedule.Timeline
	}
	res := make([]result, len(ds))
	turns := newDemoTurns(len(ds), ck, func() {
		for _, d := range ds {
			d.g.sched.Kick()
			d.g.outbox.Kick()
		}
	})
	for i, d := range ds {
		d.turns, d.index = turns, i
	}
	now := ck.Now()
	lerrs := turns.run(func(i int) error {
		d := ds[i]
		c, lead, tl, err := d.lifecycle(ctx, now)
		if err != nil {
			return fmt.Errorf("project %s: %w", d.preset, err)
		}
		d.flush()
		res[i] = result{c, lead, tl}
		return nil
	})
	if err := errors.Join(lerrs...); err != nil {
		return err
	}
	for _, d := range ds {
		d.flush() // what one project sent during another's turn
	}
	var errs []error
	for i, d := range ds {
		fmt.Fprintf(out, "\n%sthe project's own checks", d.tag)
		if err := d.summary(ctx, res[i].c.Ref, res[i].lead, res[i].tl); err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", d.preset, err))
		}
	}
	fmt.Fprintf(out, "\nBetween the projects:\n")
	x := &demo{out: out}
	x.checkProjects(ctx, ds, reg)
	failed := 0
	for _, ch := range x.checks {
		mark := "ok  "
		if ch.err != nil {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(out, "  %s %s", mark, ch.what)
		if ch.err != nil {
			fmt.Fprintf(out, ": %v", ch.err)
		}
		fmt.Fprintln(out)
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("demo: %d of %d checks between the projects failed", failed, len(x.checks)))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(out, "All %d checks between the projects passed.\n", len(x.checks))
	return nil
}

// checkProjects records, in x, the checks between the projects ds: whose
// key signs what, who receives what, the case references and the metrics.
func (x *demo) checkProjects(ctx context.Context, ds []*demo, reg *prometheus.Registry) {
	check := func(what string, ok bool, detail string) {
		var err error
		if !ok {
			err = errors.New(detail)
		}
		x.checks = append(x.checks, demoCheck{what, err})
	}
	own := map[string]*demo{} // the addresses only one project has: its team, members, announcement list
	for _, d := range ds {
		for _, a := range []string{d.teamAddr(), d.member(0), d.member(1), d.announce()} {
			own[a] = d
		}
	}
	var unowned, badSig, badFrom, crossed []string
	notices := map[*demo]int{} // embargo notices to the shared distributor, encrypted and signed by the project's key
	const shared = "security@distro-one.example"
	all := ds[0].mail.Deliveries()
	for _, dl := range all {
		p := ds[0].owner(dl)
		switch {
		case p == nil:
			unowned = append(unowned, dl.To)
			continue
		case dl.To == p.teamAddr():
			continue // mail to the gateway
		}
		if q := own[dl.To]; q != nil && q != p {
			crossed = append(crossed, fmt.Sprintf("%s's mail to %s", p.preset, dl.To))
		}
		s := p.open(dl)
		if !s.signedOK {
			badSig = append(badSig, fmt.Sprintf("%s to %s: %s", p.preset, dl.To, s.form))
		}
		if msg, err := mail.ReadMessage(bytes.NewReader(dl.Raw)); err != nil {
			badFrom = append(badFrom, err.Error())
		} else if from, err := msg.Header.AddressList("From"); err != nil || len(from) != 1 || !strings.EqualFold(from[0].Address, p.teamAddr()) {
			badFrom = append(badFrom, fmt.Sprintf("%s to %s from %q", p.preset, dl.To, msg.Header.Get("From")))
		}
		if dl.To == shared && s.kind == "embargo-notice" && s.encrypted && s.signedOK {
			notices[p]++
		}
	}
	names := func(ds []*demo, f func(*demo) string) string {
		var s []string
		for _, d := range ds {
			s = append(s, f(d))
		}
		return strings.Join(s, ", ")
	}
	check(fmt.Sprintf("every one of the %d messages is one project's (its outbox sent it, or its team address received it)", len(all)),
		len(unowned) == 0, "no project's: "+strings.Join(unowned, ", "))
	check("each project's mail is signed by its own team key ("+names(ds, func(d *demo) string { return d.preset + " " + d.team.Fingerprint()[:16] })+"...)",
		len(badSig) == 0, strings.Join(badSig, "; "))
	check("each project's mail comes from its own address ("+names(ds, (*demo).teamAddr)+")", len(badFrom) == 0, strings.Join(badFrom, "; "))
	check("no member, team or announcement list of one project receives anything of another", len(crossed) == 0, strings.Join(crossed, "; "))
	ok := true
	for _, d := range ds {
		ok = ok && notices[d] >= 1
	}
	check(shared+", on every project's embargo list, gets each project's notice separately, encrypted to it and signed by that project's key",
		ok, fmt.Sprintf("notices by project: %v", notices))
	var badRefs []string
	for _, d := range ds {
		cs, err := d.g.workflow.List(ctx, cases.ListOptions{})
		if err != nil || len(cs) == 0 {
			badRefs = append(badRefs, fmt.Sprintf("%s: %d cases (%v)", d.preset, len(cs), err))
		}
		for _, c := range cs {
			if !strings.HasPrefix(c.Ref, d.prefix+"-") {
				badRefs = append(badRefs, d.preset+": "+c.Ref)
			}
		}
	}
	check("each project's case references carry its own prefix ("+names(ds, func(d *demo) string { return d.prefix + "-" })+")",
		len(badRefs) == 0, strings.Join(badRefs, "; "))
	labelled := map[string]bool{}
	mfs, err := reg.Gather()
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "secgate_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "project" {
					labelled[l.GetValue()] = true
				}
			}
		}
	}
	missing := []string{}
	for _, d := range ds {
		if !labelled[d.g.name] {
			missing = append(missing, d.g.name)
		}
	}
	check("the process's metrics give each project its own series (project=\""+names(ds, func(d *demo) string { return d.g.name })+"\")",
		err == nil && len(missing) == 0, fmt.Sprintf("no series for %v (%v)", missing, err))
}
