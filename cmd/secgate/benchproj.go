package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secgate/secgate/crypto"
)

// secgate bench -projects N: N projects in one process, as serve runs them
// ([gateway] projects), each with its own database, team key, 10 members
// and an embargo list of 50 distributors (the same 50 distributors, with
// their keys, on every list, as distributors are). It measures start-up
// (every file loaded and checked, every team key unlocked, every gateway
// opened) and one project's intake and fan-out among N against the same
// figures of one project alone, measured in the same run, in rounds (one
// alone, then one among N; -rounds) whose median ratio counts.

const (
	benchProjMembers      = 10
	benchProjDistributors = 50
	benchProjFanOuts      = 5 // fan-outs per measurement; the median counts
)

// projectsResult is what secgate bench -projects prints; --json prints it
// as is.
type projectsResult struct {
	Machine      benchMachine `json:"machine"`
	Projects     int          `json:"projects"`
	Members      int          `json:"members_per_project"`
	Distributors int          `json:"distributors_per_project"`
	Setup        benchSeconds `json:"setup_seconds"` // keys and files, not start-up
	// Start-up as serve does it (startup.go: several projects at a time):
	// the first (every database created) and a restart; then a restart one
	// project after another, which shows what starting several at a time
	// gains.
	FirstStartup  startupResult  `json:"first_startup"`
	Startup       startupResult  `json:"startup"`
	SerialStartup startupResult  `json:"serial_startup"`
	Alone         projectFigures `json:"alone"`   // one project alone in the process (the last round)
	AmongN        projectFigures `json:"among_n"` // one project among N, every gateway running (the last round)
	// Rounds are the ratios of each round (one project alone, then one
	// among N, measured one after the other); the goals take their median,
	// so that the machine's load changing between two measurements counts
	// less.
	Rounds []projectRound `json:"rounds"`
	// Restarts are the start-ups after the first, as serve does them (one
	// a round); Startup is the last.
	Restarts []benchSeconds `json:"restart_seconds"`
	Goals    []benchGoal    `json:"goals"`
	Notes    []string       `json:"notes"`
	Total    benchSeconds   `json:"total_seconds"`
}

// startupResult is the start-up of N projects, in serve's order.
type startupResult struct {
	Seconds benchSeconds `json:"seconds"`      // the whole: load + unlock + open
	Load    benchSeconds `json:"load_seconds"` // LoadProjects: every file decoded and checked
	// Every project's files checked and its team key read and unlocked
	// with its passphrase (S2K): unlockProjects.
	Unlock benchSeconds `json:"unlock_seconds"`
	// Every gateway opened (database, directory sync, parts): openProjects.
	Open benchSeconds `json:"open_seconds"`
	// The start-up without the keys' unlocking.
	WithoutUnlock benchSeconds `json:"without_unlock_seconds"`
	// CPU is the process's CPU time during the whole start-up: divided by
	// the cores, what the start-up takes at the least on an idle machine.
	CPU      benchSeconds `json:"cpu_seconds"`
	Parallel int          `json:"parallel"` // projects started at a time
	// UnlockEach is one project's check and unlocking, on average, when
	// one project starts at a time (0 otherwise).
	UnlockEach benchSeconds `json:"unlock_each_seconds"`
}

// projectRound is one round's figures among N against alone.
type projectRound struct {
	IntakeAlone  float64 `json:"intake_alone"` // reports/s
	IntakeAmongN float64 `json:"intake_among_n"`
	IntakeRatio  float64 `json:"intake_ratio"` // among N / alone: ≥ 0.9 is the goal
	FanOutAlone  float64 `json:"fanout_alone"` // median, seconds
	FanOutAmongN float64 `json:"fanout_among_n"`
	FanOutRatio  float64 `json:"fanout_ratio"` // among N / alone: ≤ 1.1 is the goal
}

// median returns the median of the rounds' f.
func medianOf(rs []projectRound, f func(projectRound) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return math.NaN()
	}
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

type projectFigures struct {
	Project      string         `json:"project"`
	Intake       *intakeResult  `json:"intake"`
	FanOut       []fanOutResult `json:"fanout"`
	FanOutMedian benchSeconds   `json:"fanout_median_seconds"`
	// IdleCPU is the CPU the process used, in cores, over 2 s (the least of
	// three) with every
	// gateway running and nothing to do (the others' cost to the one measured).
	IdleCPU float64 `json:"idle_cpu_cores"`
}

func benchProjName(i int) string      { return fmt.Sprintf("p%03d", i) }
func benchProjTeam(i int) string      { return "security@" + benchProjName(i) + ".bench.test" }
func benchProjMember(i, m int) string { return fmt.Sprintf("m%02d@%s.bench.test", m, benchProjName(i)) }

// runBenchProjects runs secgate bench -projects n with b's options.
func runBenchProjects(ctx context.Context, a *app, b *bench, n int, asJSON bool) error {
	if n < 2 || n > 1000 {
		return fmt.Errorf("-projects %d: want 2 to 1000", n)
	}
	b.o.N, b.o.Algos, b.o.RSAKeys = benchProjDistributors, []string{"x25519"}, 1
	res, err := b.runProjects(ctx, n)
	if err != nil {
		return err
	}
	return printBenchResult(a, res, asJSON)
}

func (b *bench) runProjects(ctx context.Context, n int) (*projectsResult, error) {
	start := time.Now()
	res := &projectsResult{Machine: benchMachineInfo(), Projects: n, Members: benchProjMembers, Distributors: benchProjDistributors}
	teams := make([]string, n)
	for i := range teams {
		teams[i] = benchProjTeam(i)
	}
	stop, err := b.startWorld(teams...)
	if err != nil {
		return nil, err
	}
	defer stop()

	b.step("generating keys and the configuration of %d projects\n", n)
	top, teamKeys, err := b.setupProjects(time.Now(), n)
	if err != nil {
		return nil, err
	}
	res.Setup = benchSecs(time.Since(start))

	// Rounds, each: one project alone in the process (the figures to
	// compare with), then N projects started as serve starts them and one
	// project among them. Measured one after the other, round after round,
	// so that the load of a shared machine weighs on both alike.
	set, err := LoadProjects(top)
	if err != nil {
		return nil, err
	}
	var gws []*gateway
	closeAll := func() {
		for _, g := range gws {
			g.Close()
		}
		gws = nil
	}
	defer func() { closeAll() }()
	last := n - 1
	rounds := max(b.o.Rounds, 1)
	for r := range rounds {
		final := r == rounds-1
		b.step("round %d of %d: one project alone: intake of %d reports, %d fan-outs to %d distributors\n", r+1, rounds, b.o.Reports, benchProjFanOuts, benchProjDistributors)
		alone := set.Project(benchProjName(0))
		key, err := loadTeamKey(alone, os.Getenv)
		if err != nil {
			return nil, err
		}
		g, err := openGateway(ctx, alone, gatewayOptions{Logger: b.log, TeamKey: key})
		if err != nil {
			return nil, err
		}
		res.Alone, err = b.measureProject(ctx, []*gateway{g}, 0, teamKeys[0], r, final)
		g.Close()
		if err != nil {
			return nil, err
		}
		st := &res.FirstStartup
		if r > 0 {
			st = &res.Startup
		}
		b.step("round %d of %d: start-up of %d projects, %d at a time as serve does\n", r+1, rounds, n, startParallel())
		runtime.GC()
		if gws, err = b.startProjects(ctx, top, st, startParallel()); err != nil {
			return nil, err
		}
		if r > 0 {
			res.Restarts = append(res.Restarts, st.Seconds)
		}
		b.step("round %d of %d: one project among %d (%s): intake of %d reports, %d fan-outs to %d distributors\n", r+1, rounds, n, benchProjName(last), b.o.Reports, benchProjFanOuts, benchProjDistributors)
		if res.AmongN, err = b.measureProject(ctx, gws, last, teamKeys[last], r, final); err != nil {
			return nil, err
		}
		ia, in := res.Alone.Intake.PerSecond, res.AmongN.Intake.PerSecond
		fa, fn := float64(res.Alone.FanOutMedian), float64(res.AmongN.FanOutMedian)
		res.Rounds = append(res.Rounds, projectRound{IntakeAlone: ia, IntakeAmongN: in, IntakeRatio: in / ia, FanOutAlone: fa, FanOutAmongN: fn, FanOutRatio: fn / fa})
	}
	closeAll()
	runtime.GC()
	if rounds == 1 { // no restart yet
		b.step("restart of %d projects, %d at a time as serve does\n", n, startParallel())
		if gws, err = b.startProjects(ctx, top, &res.Startup, startParallel()); err != nil {
			return nil, err
		}
		res.Restarts = append(res.Restarts, res.Startup.Seconds)
		closeAll()
		runtime.GC()
	}
	b.step("restart of %d projects, one after another\n", n)
	if gws, err = b.startProjects(ctx, top, &res.SerialStartup, 1); err != nil {
		return nil, err
	}
	res.Total = benchSecs(time.Since(start))
	res.Machine.LoadEnd = benchLoadAverage()
	if n := busyNote(res.Machine); n != "" {
		res.Notes = append(res.Notes, n)
	}
	res.goals()
	return res, nil
}

// startProjects does what serve does before serving, with serve's
// functions (unlockProjects, openProjects), par projects at a time, timing
// each part: it loads the configuration, checks every project's files and
// unlocks its team key, and opens every gateway (one registry). It leaves
// no gateway running.
func (b *bench) startProjects(ctx context.Context, top string, st *startupResult, par int) ([]*gateway, error) {
	st.Parallel = par
	t0, cpu0 := time.Now(), benchCPUTime()
	set, err := LoadProjects(top)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	keys, err := unlockProjects(set, set.Projects, os.Getenv, par)
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	reg := newRegistry()
	gws, err := openProjects(ctx, set, set.Projects, par, func(i int) gatewayOptions {
		return gatewayOptions{Logger: b.log.With("project", set.Projects[i].Name), TeamKey: keys[i], Metrics: reg}
	})
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	st.CPU = benchSecs(benchCPUTime() - cpu0)
	st.Load, st.Unlock, st.Open = benchSecs(t1.Sub(t0)), benchSecs(t2.Sub(t1)), benchSecs(t3.Sub(t2))
	st.Seconds = benchSecs(t3.Sub(t0))
	st.WithoutUnlock = st.Seconds - st.Unlock
	if par == 1 {
		st.UnlockEach = st.Unlock / benchSeconds(len(keys))
	}
	return gws, nil
}

// measureProject runs every gateway of gws and measures the intake and
// the fan-outs of gws[i]; it stops them after.
func (b *bench) measureProject(ctx context.Context, gws []*gateway, i int, team *crypto.Key, round int, idle bool) (projectFigures, error) {
	f := projectFigures{Project: benchProjName(i)}
	if len(gws) == 1 {
		i = 0
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(gws))
	for _, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.run(rctx); err != nil {
				errs <- fmt.Errorf("project %s: %w", g.name, err)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	// What every gateway sends as it starts (the key reports) leaves
	// before anything is measured.
	b.settleSink(ctx, 30*time.Second)
	// The least of three 2 s spans: what the gateways' own starting
	// (logging in, the first rounds of every part) leaves out. Measured
	// when idle is set (the last round).
	for j := range 3 * btoi(idle) {
		cpu0, t0 := benchCPUTime(), time.Now()
		time.Sleep(2 * time.Second)
		if c := (benchCPUTime() - cpu0).Seconds() / time.Since(t0).Seconds(); j == 0 || c < f.IdleCPU {
			f.IdleCPU = c
		}
	}
	m := *b
	m.g, m.team, m.teamAddr, m.distinct = gws[i], team, benchProjTeam(projIndex(gws[i].name)), map[string]int{"x25519": benchProjDistributors}
	entity, err := m.noticeEntity(gws[i].cfg)
	if err != nil {
		return f, err
	}
	// A small burst first, not counted: the first reports of a process
	// pay for its warming up (heap growth, the database's first pages).
	w := m
	w.o.Reports, w.o.Latency = min(50, m.o.Reports), 0
	if _, err := w.intake(ctx); err != nil {
		return f, err
	}
	b.settleSink(ctx, 30*time.Second)
	for r := range benchProjFanOuts {
		m.suffix = fmt.Sprintf("-%s-%d-%d", f.Project, round, r) // a notice of its own each time
		fo, err := m.fanOut(ctx, "x25519", entity)
		if err != nil {
			return f, err
		}
		f.FanOut = append(f.FanOut, fo)
	}
	totals := make([]benchSeconds, len(f.FanOut))
	for j, fo := range f.FanOut {
		totals[j] = fo.Total
	}
	slices.Sort(totals)
	f.FanOutMedian = totals[len(totals)/2]
	if f.Intake, err = m.intake(ctx); err != nil {
		return f, err
	}
	select {
	case err := <-errs:
		return f, err
	default:
	}
	return f, nil
}

// joinSeconds writes seconds as "3.10 s, 3.32 s".
func joinSeconds(ss []benchSeconds) string {
	var out []string
	for _, x := range ss {
		out = append(out, fmt.Sprintf("%.2f s", float64(x)))
	}
	return strings.Join(out, ", ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// projIndex is the index in the name pNNN.
func projIndex(name string) int {
	var i int
	fmt.Sscanf(name, "p%d", &i)
	return i
}

// settleSink waits until the SMTP sink has received nothing for a second.
func (b *bench) settleSink(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	n := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m := b.sink.Len(); m == n {
			return
		} else {
			n = m
		}
		time.Sleep(time.Second)
	}
}

// setupProjects generates the keys and writes the configuration of n
// projects: the top file (what they share: the servers, the intake's and
// the schedule's settings) and a file per project. It returns the top
// file's path and the team keys.
func (b *bench) setupProjects(now time.Time, n int) (string, []*crypto.Key, error) {
	created := now.Add(-time.Hour)
	write := func(name string, data string) error {
		p := filepath.Join(b.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(data), 0o600)
	}
	var err error
	if b.reporter, err = crypto.GenerateKey("Rita Reporter", benchReporter, crypto.GenerateOptions{Created: created}); err != nil {
		return "", nil, err
	}
	dists, err := benchGenerateKeys("x25519", benchProjDistributors, created, func(i int) string { return benchDist("x25519", i) })
	if err != nil {
		return "", nil, err
	}
	teams, err := benchGenerateKeys("x25519", n, created, benchProjTeam)
	if err != nil {
		return "", nil, err
	}
	members, err := benchGenerateKeys("x25519", n*benchProjMembers, created, func(i int) string { return benchProjMember(i/benchProjMembers, i%benchProjMembers) })
	if err != nil {
		return "", nil, err
	}
	var list strings.Builder
	fmt.Fprintf(&list, "[[distlist.list]]\nname = %q\nkind = \"embargo\"\n\n", benchList("x25519"))
	for i, k := range dists {
		pub, err := k.ArmorPublic()
		if err != nil {
			return "", nil, err
		}
		file := fmt.Sprintf("keys/dist/x25519-%d.asc", i)
		if err := write(file, pub); err != nil {
			return "", nil, err
		}
		fmt.Fprintf(&list, "[[distlist.list.recipient]]\nname = \"Distributor %d\"\naddress = %q\nkey_file = \"../%s\"\n\n", i, benchDist("x25519", i), file)
	}
	// The team keys protected with the passphrase, as the single-project
	// bench and secgate init protect them, on every core.
	arms := make([]string, n)
	armErrs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, k := range teams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			arms[i], armErrs[i] = k.ArmorPrivate([]byte(benchPass))
		}()
	}
	wg.Wait()
	if err := errors.Join(armErrs...); err != nil {
		return "", nil, err
	}
	for _, f := range [][2]string{{"password", benchPassword + "\n"}, {"keys/passphrase", benchPass + "\n"}} {
		if err := write(f[0], f[1]); err != nil {
			return "", nil, err
		}
	}
	for i := range n {
		p := benchProjName(i)
		if err := write("projects/"+p+"/keys/team.asc", arms[i]); err != nil {
			return "", nil, err
		}
		var ms strings.Builder
		for m := range benchProjMembers {
			k := members[i*benchProjMembers+m]
			pub, err := k.ArmorPublic()
			if err != nil {
				return "", nil, err
			}
			file := fmt.Sprintf("%s/keys/m%02d.asc", p, m)
			if err := write("projects/"+file, pub); err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&ms, "[[distlist.member]]\nname = \"Member %d\"\naddress = %q\nkey_file = %q\nrole = \"lead\"\nrota = %d\n\n", m, benchProjMember(i, m), file, m+1)
		}
		cfg := fmt.Sprintf(`# secgate bench project (generated)
[gateway]
domain = "%[1]s.bench.test"
team = %[2]q
data_dir = "%[1]s"
database = "%[1]s/secgate.db"

[team_key]
path = "%[1]s/keys/team.asc"
passphrase_file = "../keys/passphrase"

[imap]
user = %[2]q

[schedule]
artifacts_dir = "%[1]s"

[project]
name = "%[1]s"
announce_list = "announce@lists.%[1]s.bench.test"
advisory_prefix = "BENCH"

%[3]s%[4]s[[distlist.list]]
name = "announce"
kind = "public"

[[distlist.list.recipient]]
name = "Announcements"
address = "announce@lists.%[1]s.bench.test"
`, p, benchProjTeam(i), ms.String(), list.String())
		if err := write("projects/"+p+".toml", cfg); err != nil {
			return "", nil, err
		}
	}
	top := fmt.Sprintf(`# secgate bench configuration of several projects (generated)
[gateway]
projects = "projects"

[imap]
address = %q
password_file = "password"
tls = "plain-loopback"

[smtp]
address = %q
user = %q
password_file = "password"
tls = "plain-loopback"
parallel = %d

[metrics]
listen = ""

[intake]
backoff_min = "50ms"
backoff_max = "1s"
rate_limit = 20
new_cases_per_day = 100 # each round's reports come from the same 500 reporters

[schedule]
policy = "knative"
embargo_list = %q
public_lists = ["announce"]
`, b.imap.Addr, b.sink.Addr, benchTeam, b.o.Parallel, benchList("x25519"))
	if err := write("secgate.toml", top); err != nil {
		return "", nil, err
	}
	return filepath.Join(b.dir, "secgate.toml"), teams, nil
}

func (r *projectsResult) goals() {
	add := func(what, goal, value string, met bool) {
		r.Goals = append(r.Goals, benchGoal{What: what, Goal: goal, Value: value, Met: met})
	}
	st := r.Startup
	add(fmt.Sprintf("start-up of %d projects", r.Projects), "< 2 s", fmt.Sprintf("%.2f s (%.2f s unlocking keys)", st.Seconds, st.Unlock), st.Seconds < 2)
	ir := medianOf(r.Rounds, func(p projectRound) float64 { return p.IntakeRatio })
	add(fmt.Sprintf("intake, one project among %d", r.Projects), "≥ 90 % of alone", fmt.Sprintf("%.0f %% (median of %d rounds)", 100*ir, len(r.Rounds)), ir >= 0.9)
	fr := medianOf(r.Rounds, func(p projectRound) float64 { return p.FanOutRatio })
	add(fmt.Sprintf("fan-out to %d, one project among %d", r.Distributors, r.Projects), "≤ 110 % of alone",
		fmt.Sprintf("%.0f %% (median of %d rounds)", 100*fr, len(r.Rounds)), fr <= 1.1)
}

func (r *projectsResult) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "secgate bench -projects %d: %d projects in one process, as serve runs them ([gateway] projects)\n", r.Projects, r.Projects)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, kernel %s, %s\n", m.CPU, m.Cores, m.OS, m.Kernel, m.Go)
	fmt.Fprintf(w, "         load average %.2f at the start, %.2f at the end\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "setup:   %.1f s: %d projects, each its own database and team key, %d members (curve25519) and an embargo list of\n"+
		"         the same %d distributors (curve25519); in-process IMAP server and SMTP sink on 127.0.0.1\n",
		float64(r.Setup), r.Projects, r.Members, r.Distributors)
	fmt.Fprintf(w, "\n(a) Start-up, as serve does it, until every gateway is open (before the first runs)\n")
	fmt.Fprintf(w, "                                              first      restart    restart, one at a time\n")
	row := func(what string, f func(startupResult) benchSeconds) {
		fmt.Fprintf(w, "    %-40s %7.3f s  %7.3f s  %7.3f s\n", what, f(r.FirstStartup), f(r.Startup), f(r.SerialStartup))
	}
	row(fmt.Sprintf("load the configuration (%d files)", r.Projects+1), func(s startupResult) benchSeconds { return s.Load })
	row("check files, unlock team keys (S2K)", func(s startupResult) benchSeconds { return s.Unlock })
	row("open every gateway (database, directory)", func(s startupResult) benchSeconds { return s.Open })
	row("total", func(s startupResult) benchSeconds { return s.Seconds })
	row("total without unlocking the keys", func(s startupResult) benchSeconds { return s.WithoutUnlock })
	row("CPU time of the process", func(s startupResult) benchSeconds { return s.CPU })
	fmt.Fprintf(w, "    first and restart as serve starts them, %d projects at a time; first: every database created;\n", r.Startup.Parallel)
	fmt.Fprintf(w, "    one key checked and unlocked in %.1f ms (its S2K, as secgate init protects it)\n", float64(r.SerialStartup.UnlockEach)*1000)
	if len(r.Restarts) > 1 {
		fmt.Fprintf(w, "    restarts as serve does them, one a round: %s (the last one above)\n", joinSeconds(r.Restarts))
	}
	fmt.Fprintf(w, "\n(b) One project alone (%s), then one among %d (%s, every gateway running), in this run: the last round\n", r.Alone.Project, r.Projects, r.AmongN.Project)
	fmt.Fprintf(w, "                               alone      among %-4d  ratio\n", r.Projects)
	ia, in := r.Alone.Intake, r.AmongN.Intake
	fmt.Fprintf(w, "    intake, reports/s         %7.0f    %7.0f     %5.2f   (%d reports at once, %d members' copies each)\n", ia.PerSecond, in.PerSecond, in.PerSecond/ia.PerSecond, ia.Reports, r.Members)
	fmt.Fprintf(w, "    delivery to case, p50     %7.1f ms %7.1f ms  %5.2f\n", float64(ia.P50)*1000, float64(in.P50)*1000, float64(in.P50)/float64(ia.P50))
	fmt.Fprintf(w, "    fan-out to %d, median     %7.1f ms %7.1f ms  %5.2f   (of %d; enqueue and delivery)\n", r.Distributors,
		float64(r.Alone.FanOutMedian)*1000, float64(r.AmongN.FanOutMedian)*1000, float64(r.AmongN.FanOutMedian)/float64(r.Alone.FanOutMedian), benchProjFanOuts)
	fmt.Fprintf(w, "    idle process, cores       %7.3f    %7.3f             (CPU, least of three 2 s spans, every gateway running, nothing to do)\n", r.Alone.IdleCPU, r.AmongN.IdleCPU)
	fmt.Fprintf(w, "    rounds (alone, then among %d, one after the other):\n", r.Projects)
	for i, p := range r.Rounds {
		fmt.Fprintf(w, "      %d: intake %5.0f vs %5.0f reports/s (%.2f), fan-out %5.1f vs %5.1f ms (%.2f)\n", i+1,
			p.IntakeAmongN, p.IntakeAlone, p.IntakeRatio, p.FanOutAmongN*1000, p.FanOutAlone*1000, p.FanOutRatio)
	}
	printGoalsTail(w, r.Goals, r.Notes, r.Total, 40, 18, 40)
}
