package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestBenchProjects runs secgate bench -projects with 3 projects and few
// reports, to keep the code path of the manual -projects 100 run working:
// every figure is there (the start-ups as serve does them, and one project
// after another), every fan-out was delivered encrypted, each round's
// ratios are there, and the three goals are judged.
func TestBenchProjects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs secgate bench -projects 3 (about 10 s)")
	}
	code, stdout, stderr := runCLI(t, nil, "bench", "-projects", "3", "-rounds", "2", "-reports", "20", "-latency", "2", "--json")
	if code != 0 {
		t.Fatalf("bench -projects 3: exit %d\n%s", code, stderr)
	}
	var r projectsResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("bench -projects --json: %v\n%s", err, stdout)
	}
	if r.Projects != 3 || r.Members != 10 || r.Distributors != 50 {
		t.Errorf("projects %d, members %d, distributors %d", r.Projects, r.Members, r.Distributors)
	}
	for _, st := range []startupResult{r.FirstStartup, r.Startup, r.SerialStartup} {
		if st.Load <= 0 || st.Unlock <= 0 || st.Open <= 0 || st.Seconds < st.Load+st.Unlock+st.Open-1e-6 || st.CPU <= 0 {
			t.Errorf("start-up: %+v", st)
		}
	}
	if r.Startup.Parallel != startParallel() || r.SerialStartup.Parallel != 1 || r.SerialStartup.UnlockEach <= 0 {
		t.Errorf("start-up %d at a time, then %d (%v a key); want %d, then 1", r.Startup.Parallel, r.SerialStartup.Parallel, r.SerialStartup.UnlockEach, startParallel())
	}
	for _, f := range []projectFigures{r.Alone, r.AmongN} {
		if f.Intake == nil || f.Intake.Cases != 20 || f.Intake.Acks != 20 || f.Intake.TeamCopies != 200 || f.Intake.PerSecond <= 0 || len(f.Intake.Latency) != 2 {
			t.Errorf("%s intake: %+v", f.Project, f.Intake)
		}
		if len(f.FanOut) != benchProjFanOuts || f.FanOutMedian <= 0 {
			t.Errorf("%s fan-outs: %d, median %v", f.Project, len(f.FanOut), f.FanOutMedian)
		}
		for _, fo := range f.FanOut {
			if fo.Sent != 50 || fo.Delivered != 50 || fo.Encrypted != 50 {
				t.Errorf("%s fan-out: %d sent, %d delivered, %d encrypted; want 50 each", f.Project, fo.Sent, fo.Delivered, fo.Encrypted)
			}
		}
	}
	if len(r.Rounds) != 2 || len(r.Restarts) != 1 || r.Restarts[0] != r.Startup.Seconds {
		t.Errorf("%d rounds, restarts %v (start-up %v); want 2 rounds and the second's restart", len(r.Rounds), r.Restarts, r.Startup.Seconds)
	}
	for i, p := range r.Rounds {
		if p.IntakeAlone <= 0 || p.IntakeAmongN <= 0 || p.FanOutAlone <= 0 || p.FanOutAmongN <= 0 ||
			math.Abs(p.IntakeRatio-p.IntakeAmongN/p.IntakeAlone) > 1e-9 || math.Abs(p.FanOutRatio-p.FanOutAmongN/p.FanOutAlone) > 1e-9 {
			t.Errorf("round %d: %+v", i+1, p)
		}
	}
	if r.Alone.Project != "p000" || r.AmongN.Project != "p002" {
		t.Errorf("measured %s alone and %s among 3", r.Alone.Project, r.AmongN.Project)
	}
	if len(r.Goals) != 3 || !strings.Contains(r.Goals[0].What, "start-up of 3 projects") {
		t.Errorf("goals: %+v", r.Goals)
	}
	if code, _, stderr := runCLI(t, nil, "bench", "-projects", "1"); code != 1 || !strings.Contains(stderr, "-projects 1") {
		t.Errorf("bench -projects 1: exit %d, %q", code, stderr)
	}
}
