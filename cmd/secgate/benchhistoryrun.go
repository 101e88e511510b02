package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
)

// benchHistoryUser is the mailbox of the project with years of data; the
// empty project reads benchTeam's.
const benchHistoryUser = "security-history@bench.test"

// historyTemplateReports is how many reports the templates of the
// generated history come from, through the whole gateway.
const historyTemplateReports = 12

// historyResult is what secgate bench -history prints.
type historyResult struct {
	Machine   benchMachine   `json:"machine"`
	Sizes     historySizes   `json:"sizes"`
	Generated historyStats   `json:"generated"`
	PerCase   int64          `json:"database_bytes_per_case"`
	Empty     historyFigures `json:"empty"`
	History   historyFigures `json:"history"`
	Rounds    int            `json:"rounds"`
	Goals     []benchGoal    `json:"goals"`
	Notes     []string       `json:"notes"`
	Total     benchSeconds   `json:"total_seconds"`
}

// historyFigures are the figures of one database, the medians of the
// rounds (the intake: of its rounds' rates).
type historyFigures struct {
	Cases         int          `json:"cases"`
	Startup       benchSeconds `json:"startup_seconds"` // open, migrate, directory, outbox and scheduler recovery: openGateway and a first tick
	List          benchSeconds `json:"case_list_seconds"`
	ListOpen      benchSeconds `json:"case_list_open_seconds"`
	ListState     benchSeconds `json:"case_list_state_seconds"`
	ShowOld       benchSeconds `json:"case_show_old_seconds"`
	ShowBusy      benchSeconds `json:"case_show_busy_seconds"`
	Tick          benchSeconds `json:"tick_seconds"`   // the scheduler's turn: the due jobs (RunDue)
	Checks        benchSeconds `json:"checks_seconds"` // its periodic checks: acknowledgements and SLA deadlines of the open cases
	Open          int          `json:"open_cases"`
	Intake        float64      `json:"intake_reports_per_second"`
	IntakeCPU     benchSeconds `json:"intake_cpu_seconds_per_report"`
	OldRef        string       `json:"old_ref,omitempty"`
	BusyRef       string       `json:"busy_ref,omitempty"`
	startups      []float64
	lists         [3][]float64
	shows         [2][]float64
	ticks         []float64
	checks        []float64
	intakes       []float64
	intakeCPUs    []float64
	cfgPath, imap string
}

// runBenchHistory runs secgate bench -history.
func runBenchHistory(ctx context.Context, a *app, b *bench, s historySizes, asJSON bool) error {
	switch {
	case s.Cases < 1 || s.Outbox < 0 || s.Inbound < 0:
		return fmt.Errorf("-history-cases %d, -history-outbox %d, -history-inbound %d: want at least one case and no negative size", s.Cases, s.Outbox, s.Inbound)
	case b.o.Reports < 1:
		return fmt.Errorf("-reports %d: want at least 1", b.o.Reports)
	}
	s.Open = min(s.Open, s.Cases/10)
	b.o.Algos, b.o.RSAKeys, b.o.N = []string{"x25519"}, 1, min(b.o.N, benchProjDistributors)
	res, err := b.runHistory(ctx, s)
	if err != nil {
		return err
	}
	return printBenchResult(a, res, asJSON)
}

func (b *bench) runHistory(ctx context.Context, s historySizes) (*historyResult, error) {
	start := time.Now()
	res := &historyResult{Machine: benchMachineInfo(), Sizes: s, Rounds: max(b.o.Rounds, 1)}
	stop, err := b.startWorld(benchTeam, benchHistoryUser)
	if err != nil {
		return nil, err
	}
	defer stop()
	b.step("generating keys and the configuration\n")
	emptyCfg, err := b.setup(time.Now())
	if err != nil {
		return nil, err
	}
	histCfg, err := historyConfig(emptyCfg)
	if err != nil {
		return nil, err
	}
	res.Empty.cfgPath, res.Empty.imap = emptyCfg, benchTeam
	res.History.cfgPath, res.History.imap = histCfg, benchHistoryUser

	b.step("years of data: %d cases through the gateway, then copied to %d cases, %d outbox rows, %d inbound messages\n",
		historyTemplateReports, s.Cases, s.Outbox, s.Inbound)
	if res.Generated, err = b.historyDatabase(ctx, histCfg, s); err != nil {
		return nil, err
	}
	res.PerCase = res.Generated.Bytes / int64(max(res.Generated.Cases, 1))
	// The empty database: created and its directory synced once, so that
	// both start-ups below are restarts.
	if err := b.withGateway(ctx, emptyCfg, false, func(*gateway) error { return nil }); err != nil {
		return nil, err
	}

	for r := range res.Rounds {
		for _, f := range []*historyFigures{&res.Empty, &res.History} {
			which, tag := "empty", "empty"
			if f == &res.History {
				which, tag = "years of data", "years"
			}
			b.step("round %d of %d, %s: start-up, case list and show, tick, intake of %d reports\n", r+1, res.Rounds, which, b.o.Reports)
			if err := b.measureHistory(ctx, f, tag, r+1); err != nil {
				return nil, fmt.Errorf("bench: history, %s: %w", which, err)
			}
		}
	}
	for _, f := range []*historyFigures{&res.Empty, &res.History} {
		f.Startup = benchSeconds(median(f.startups))
		f.List, f.ListOpen, f.ListState = benchSeconds(median(f.lists[0])), benchSeconds(median(f.lists[1])), benchSeconds(median(f.lists[2]))
		f.ShowOld, f.ShowBusy = benchSeconds(median(f.shows[0])), benchSeconds(median(f.shows[1]))
		f.Tick, f.Checks = benchSeconds(median(f.ticks)), benchSeconds(median(f.checks))
		f.Intake, f.IntakeCPU = median(f.intakes), benchSeconds(median(f.intakeCPUs))
	}
	res.Total = benchSecs(time.Since(start))
	res.Machine.LoadEnd = benchLoadAverage()
	if n := busyNote(res.Machine); n != "" {
		res.Notes = append(res.Notes, n)
	}
	res.goals()
	return res, nil
}

// historyConfig writes, beside the configuration at path, the same
// configuration with its own database (history.db) and mailbox
// (benchHistoryUser), and returns its path.
func historyConfig(path string) (string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.Replace(string(text), `database = "secgate.db"`, `database = "history.db"`, 1)
	s = strings.Replace(s, fmt.Sprintf("user = %q", benchTeam), fmt.Sprintf("user = %q", benchHistoryUser), 1)
	if s == string(text) {
		return "", errors.New("bench: history: the generated configuration names no database and mailbox to change")
	}
	out := filepath.Join(filepath.Dir(path), "history.toml")
	return out, os.WriteFile(out, []byte(s), 0o600)
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// withGateway opens the gateway of the configuration at path, as serve
// does, runs it when run is set, and calls f.
func (b *bench) withGateway(ctx context.Context, path string, run bool, f func(*gateway) error) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	key, err := loadTeamKey(cfg, os.Getenv)
	if err != nil {
		return err
	}
	g, err := openGateway(ctx, cfg, gatewayOptions{Logger: b.log, TeamKey: key})
	if err != nil {
		return err
	}
	defer g.Close()
	if !run {
		return f(g)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.run(rctx) }()
	err = f(g)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}

// historyDatabase makes the database of years: reports through the whole
// gateway, turned into cases of every kind by the workflow and the
// scheduler (open with a plan, closed, invalid), then copied by
// generateHistory.
func (b *bench) historyDatabase(ctx context.Context, path string, s historySizes) (historyStats, error) {
	var st historyStats
	err := b.withGateway(ctx, path, true, func(g *gateway) error {
		b.g, b.teamAddr = g, benchHistoryUser
		defer func() { b.g, b.teamAddr = nil, "" }()
		reports, latency := b.o.Reports, b.o.Latency
		b.o.Reports, b.o.Latency = historyTemplateReports, 0
		_, err := b.intake(ctx)
		b.o.Reports, b.o.Latency = reports, latency
		if err != nil {
			return err
		}
		if err := historyShapeTemplates(ctx, g, time.Now()); err != nil {
			return err
		}
		b.waitOutboxIdle(ctx, 15*time.Second)
		return nil
	})
	if err != nil {
		return st, err
	}
	err = b.withGateway(ctx, path, false, func(g *gateway) error {
		st, err = generateHistory(ctx, g.db, g.workflow, s, time.Now())
		return err
	})
	return st, err
}

// historyShapeTemplates moves the cases the reports opened on, as members'
// commands do: a third confirmed, triaged and planned (a disclosure in 40
// days, its jobs pending), a third closed after an opinion, a third
// invalid.
func historyShapeTemplates(ctx context.Context, g *gateway, now time.Time) error {
	var actor string
	if err := g.db.Reader().QueryRowContext(ctx, `SELECT fingerprint FROM dir_member ORDER BY address LIMIT 1`).Scan(&actor); err != nil {
		return fmt.Errorf("bench: history: a member: %w", err)
	}
	rows, err := g.db.Reader().QueryContext(ctx, `SELECT id FROM cases ORDER BY id`)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	w := g.workflow
	for i, id := range ids {
		var steps []cases.State
		switch i % 3 {
		case 0:
			steps = []cases.State{cases.StateConfirmed, cases.StateTriaged}
		case 1:
			steps = []cases.State{cases.StateOpinion, cases.StateClosed}
		case 2:
			steps = []cases.State{cases.StateInvalid}
		}
		err := g.db.Tx(ctx, func(tx *sql.Tx) error {
			if i%3 == 0 {
				if err := w.UpdateCase(ctx, tx, id, actor, "impact", "", "", func(c *cases.Case) error {
					c.Impact = "An unauthenticated client can read other tenants' secrets through the webhook endpoint."
					c.CVSSVector, c.CVSSScore, c.Severity = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", 9.1, "CRITICAL"
					c.Affected, c.Fixed, c.CVE = "< 1.14.2", "1.14.2", fmt.Sprintf("CVE-2026-%05d", 41000+i)
					return nil
				}); err != nil {
					return err
				}
			}
			for _, st := range steps {
				if err := w.SetState(ctx, tx, id, st, actor, ""); err != nil {
					return err
				}
			}
			if i%3 != 0 {
				return nil
			}
			c, err := w.GetTx(ctx, tx, id)
			if err != nil {
				return err
			}
			_, err = g.sched.Disclose(ctx, tx, c, now.Add(40*24*time.Hour).Truncate(time.Hour), cases.DiscloseOptions{}, actor)
			return err
		})
		if err != nil {
			return fmt.Errorf("bench: history: shape case %d: %w", id, err)
		}
	}
	return nil
}

// measureHistory measures one round on the database of f: start-up, the
// case commands, a tick, and the intake of b.o.Reports reports (traced
// as tag and round with -history-trace).
func (b *bench) measureHistory(ctx context.Context, f *historyFigures, tag string, round int) error {
	runtime.GC()
	t0 := time.Now()
	err := b.withGateway(ctx, f.cfgPath, false, func(g *gateway) error {
		if _, err := g.sched.RunDue(ctx); err != nil {
			return err
		}
		if err := historyChecks(ctx, g); err != nil {
			return err
		}
		f.startups = append(f.startups, time.Since(t0).Seconds())
		for range 20 {
			t := time.Now()
			if _, err := g.sched.RunDue(ctx); err != nil {
				return err
			}
			f.ticks = append(f.ticks, time.Since(t).Seconds())
		}
		for range 5 {
			t := time.Now()
			if err := historyChecks(ctx, g); err != nil {
				return err
			}
			f.checks = append(f.checks, time.Since(t).Seconds())
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = b.withGateway(ctx, f.cfgPath, true, func(g *gateway) error {
		b.g, b.teamAddr = g, f.imap
		defer func() { b.g, b.teamAddr = nil, "" }()
		latency := b.o.Latency
		b.o.Latency = 0
		stopTrace, err := b.startHistoryTrace(tag, round)
		if err != nil {
			return err
		}
		r, err := b.intake(ctx)
		b.o.Latency = latency
		if err = errors.Join(err, stopTrace()); err != nil {
			return err
		}
		f.intakes = append(f.intakes, r.PerSecond)
		f.intakeCPUs = append(f.intakeCPUs, float64(r.CPU)/float64(r.Reports))
		b.waitOutboxIdle(ctx, 30*time.Second)
		if err := g.db.Reader().QueryRowContext(ctx, `SELECT count(*), sum(state NOT IN ('closed', 'wontfix', 'invalid')), coalesce((SELECT ref FROM cases ORDER BY received, id LIMIT 1), ''),
			coalesce((SELECT ref FROM cases WHERE id = (SELECT max(case_id) FROM schedule_job WHERE state = 'pending')),
				(SELECT ref FROM cases ORDER BY id DESC LIMIT 1)) FROM cases`).Scan(&f.Cases, &f.Open, &f.OldRef, &f.BusyRef); err != nil {
			return fmt.Errorf("the cases to show: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv}
	cmds := [][]string{{"case", "list"}, {"case", "list", "-open"}, {"case", "list", "-state", "triaged,fix-committed"}}
	for i, args := range cmds {
		for range 3 {
			t := time.Now()
			if code := run(ctx, append(args, "-config", f.cfgPath), a); code != 0 {
				return fmt.Errorf("%s: exit %d", strings.Join(args, " "), code)
			}
			f.lists[i] = append(f.lists[i], time.Since(t).Seconds())
		}
	}
	for i, ref := range []string{f.OldRef, f.BusyRef} {
		if ref == "" {
			continue
		}
		for range 3 {
			t := time.Now()
			if code := run(ctx, []string{"case", "show", "-config", f.cfgPath, ref}, a); code != 0 {
				return fmt.Errorf("case show %s: exit %d", ref, code)
			}
			f.shows[i] = append(f.shows[i], time.Since(t).Seconds())
		}
	}
	return nil
}

// historyChecks are the checks the scheduler's loop (Scheduler.Run) makes
// besides the due jobs, once a poll_interval and an sla_interval: the
// acknowledgements of notices and the SLA deadlines of the open cases.
func historyChecks(ctx context.Context, g *gateway) error {
	if _, err := g.sched.CheckAcks(ctx); err != nil {
		return err
	}
	_, err := g.sched.CheckSLA(ctx)
	return err
}

func (r *historyResult) goals() {
	add := func(what, goal, value string, met bool) {
		r.Goals = append(r.Goals, benchGoal{What: what, Goal: goal, Value: value, Met: met})
	}
	e, h := r.Empty, r.History
	ms := func(s benchSeconds) string { return fmt.Sprintf("%.1f ms", float64(s)*1000) }
	add("start-up, years of data", "≤ 1 s", fmt.Sprintf("%.3f s (empty %.3f s)", h.Startup, e.Startup), h.Startup <= 1)
	add("case list, years of data", "≤ 100 ms", fmt.Sprintf("%s (-open %s)", ms(h.List), ms(h.ListOpen)), h.List <= 0.1 && h.ListOpen <= 0.1 && h.ListState <= 0.1)
	add("case show, old and busy case", "≤ 50 ms", fmt.Sprintf("%s, %s", ms(h.ShowOld), ms(h.ShowBusy)), h.ShowOld <= 0.05 && h.ShowBusy <= 0.05)
	tr := float64(h.Tick) / float64(e.Tick)
	us := func(s benchSeconds) string { return fmt.Sprintf("%.0f µs", float64(s)*1e6) }
	add("scheduler tick, years vs empty", "≤ 110 %", fmt.Sprintf("%.0f %% (%s vs %s)", 100*tr, us(h.Tick), us(e.Tick)), tr <= 1.1)
	ir := h.Intake / e.Intake
	add("intake, years vs empty", "≥ 90 %", fmt.Sprintf("%.0f %% (%.0f vs %.0f reports/s)", 100*ir, h.Intake, e.Intake), ir >= 0.9)
}

func (r *historyResult) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "secgate bench -history: the gateway after years of operation, against an empty database of the same configuration\n")
	fmt.Fprintf(w, "machine: %s, %d cores, %s, kernel %s, %s\n", m.CPU, m.Cores, m.OS, m.Kernel, m.Go)
	fmt.Fprintf(w, "         load average %.2f at the start, %.2f at the end\n", m.LoadStart, m.LoadEnd)
	g := r.Generated
	fmt.Fprintf(w, "\n(e) Years of data\n")
	fmt.Fprintf(w, "    generated in %.1f s from %d cases made through the gateway: %d cases (%d open), %d outbox rows, %d inbound messages, %d audit events\n",
		g.Seconds, g.Templates, g.Cases, r.Sizes.Open, g.Outbox, g.Inbound, g.Audit)
	fmt.Fprintf(w, "    database: %.1f MiB, %.1f KiB a case\n", float64(g.Bytes)/(1<<20), float64(r.PerCase)/1024)
	fmt.Fprintf(w, "                                                 empty       years    ratio\n")
	row := func(what string, e, h benchSeconds) {
		fmt.Fprintf(w, "    %-40s %7.2f ms %7.2f ms %6.2f\n", what, float64(e)*1000, float64(h)*1000, float64(h)/float64(e))
	}
	row("start-up (open, sync, first tick)", r.Empty.Startup, r.History.Startup)
	row("case list", r.Empty.List, r.History.List)
	row("case list -open", r.Empty.ListOpen, r.History.ListOpen)
	row("case list -state triaged,fix-committed", r.Empty.ListState, r.History.ListState)
	row("case show, oldest case", r.Empty.ShowOld, r.History.ShowOld)
	row("case show, busy open case", r.Empty.ShowBusy, r.History.ShowBusy)
	row("scheduler tick (due jobs)", r.Empty.Tick, r.History.Tick)
	row(fmt.Sprintf("acks and SLA check (%d, %d open)", r.Empty.Open, r.History.Open), r.Empty.Checks, r.History.Checks)
	fmt.Fprintf(w, "    %-40s %7.0f /s  %7.0f /s  %6.2f   (%.2f vs %.2f ms of CPU a report)\n", "intake", r.Empty.Intake, r.History.Intake,
		r.History.Intake/r.Empty.Intake, float64(r.Empty.IntakeCPU)*1000, float64(r.History.IntakeCPU)*1000)
	fmt.Fprintf(w, "    medians of %d rounds, the two databases one after the other in each; the commands run as `secgate case ...` does,\n"+
		"    opening the database; old: %s, busy: %s\n", r.Rounds, r.History.OldRef, r.History.BusyRef)
	printGoalsTail(w, r.Goals, r.Notes, r.Total, 40, 10, 44)
}
