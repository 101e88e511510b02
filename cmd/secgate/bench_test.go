package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBench runs the real secgate binary's bench with tiny sizes (the big
// report is ingested by a subprocess of that binary) and checks that every
// figure is there, that every fan-out message was delivered encrypted, and
// that the readable report shows each of them.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs secgate bench (about 15 s)")
	}
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg not found (install gnupg, or run make test): %v", err)
	}
	bin := buildSecgate(t, t.TempDir())
	const n, reports, gpgN = 20, 10, 3
	memProfile := filepath.Join(t.TempDir(), "intake.mem")
	cmd := exec.Command(bin, "bench", "-n", "20", "-reports", "10", "-gpg-n", "3", "-big", "2", "-small", "1", "--json", "-intake-memprofile", memProfile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("secgate bench: %v\n%s", err, stderr.String())
	}
	// The gateway's allocation profile: pprof's gzipped protocol buffer.
	if prof, err := os.ReadFile(memProfile); err != nil || len(prof) < 100 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Errorf("-intake-memprofile: %d bytes (%v), want a profile", len(prof), err)
	}
	var res benchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, stdout.String())
	}

	if res.Machine.Cores < 1 || res.Machine.Go == "" || !strings.Contains(res.Machine.GPG, "GnuPG") {
		t.Errorf("machine: %+v", res.Machine)
	}
	if len(res.FanOut) != 2 || res.FanOut[0].Algo != "curve25519" || res.FanOut[1].Algo != "RSA-3072" {
		t.Fatalf("fan-out results: %+v", res.FanOut)
	}
	for _, f := range res.FanOut {
		if f.Recipients != n || f.Sent != n || f.Delivered != n || f.Encrypted != n {
			t.Errorf("%s: %d recipients, %d rows sent, %d delivered, %d encrypted; want %d each", f.Algo, f.Recipients, f.Sent, f.Delivered, f.Encrypted, n)
		}
		if f.Enqueue <= 0 || f.Delivery <= 0 || f.Total < f.Enqueue+f.Delivery-1e-6 || f.PerSecond <= 0 || f.CPU <= 0 {
			t.Errorf("%s: stage figures missing: %+v", f.Algo, f)
		}
	}
	if res.FanOut[1].DistinctKeys != 4 {
		t.Errorf("RSA distributors share %d keys, want 4", res.FanOut[1].DistinctKeys)
	}

	in := res.Intake
	if in == nil || in.Cases != reports || in.Acks != reports || in.PerSecond <= 0 {
		t.Fatalf("intake: %+v", in)
	}
	// The gateway of (b) ran in a process of its own: its CPU time is part
	// of the whole, and grows until every answer is sent.
	if in.GatewayCPU <= 0 || in.GatewayCPU >= in.CPU || in.GatewaySentCPU < in.GatewayCPU || in.Sent != 3*reports || in.SentSeconds < in.Seconds ||
		in.GatewayGC <= 0 || in.GatewayGC >= in.GatewaySentCPU {
		t.Errorf("intake, the gateway alone: %+v", in)
	}
	if len(in.Latency) != 5 || in.P50 <= 0 {
		t.Errorf("IDLE latency: %v, p50 %v", in.Latency, in.P50)
	}

	if len(res.GPG) != 2 {
		t.Fatalf("gpg loop results: %+v", res.GPG)
	}
	for _, g := range res.GPG {
		if g.Runs != gpgN || g.N != n || g.Seconds <= 0 || g.Extrapolated < g.Seconds || g.Ratio <= 0 || g.DefaultPerMessage <= 0 || g.DefaultRatio <= 0 {
			t.Errorf("gpg loop %s: %+v", g.Algo, g)
		}
	}

	if res.Memory.ProcessPeakMiB <= 0 {
		t.Errorf("process peak RSS missing")
	}
	big, small := res.Memory.BigReport, res.Memory.SmallReport
	if big == nil || !big.Case || !big.Delivered || big.BaseMiB <= 0 || big.IngestMiB < big.BaseMiB || big.RawBytes < 1900<<10 || big.RawBytes > 2<<20+64<<10 {
		t.Errorf("big report: %+v", big)
	}
	// The linear fan-out: 20, then 200 distributors (-fanout-scale 10).
	if sc := res.Scale; sc == nil || sc.Base.Recipients != n || sc.After.Delivered != n || sc.Large.Recipients != 10*n || sc.Large.Delivered != 10*n ||
		sc.Large.Encrypted != 10*n || sc.Large.DistinctKeys != 10*n || sc.NewKeys != 9*n || sc.Ratio <= 0 {
		t.Errorf("scaled fan-out: %+v", sc)
	}
	if small == nil || !small.Case || !small.Delivered || small.RawBytes < 900<<10 || small.RawBytes > 1<<20+64<<10 {
		t.Errorf("small report: %+v", small)
	}
	if len(res.Goals) != 12 { // 2 fan-outs, the scaled one, 2 × 2 gpg ratios, intake and its CPU, 3 of memory
		t.Errorf("%d goals, want 12: %+v", len(res.Goals), res.Goals)
	}

	// The readable report shows every figure.
	var out bytes.Buffer
	res.print(&out)
	text := out.String()
	for _, want := range []string{
		"machine: ", "4 RSA-3072 keys reused",
		"curve25519      20     20 ", "RSA-3072        20      4 ", "20/20 (20 encrypted)",
		"10 cases opened, 10 acknowledgements", "reports/s", "5 single reports: p50",
		"3 runs in", "extrapolated to 20", "secgate is", "default key protection",
		"this process, after fan-out and intake", "peak until the case was opened", "delivered: true",
		"fan-out to 1,000 (curve25519)", "fan-out to 1,000 (RSA-3072)", "speed-up over the gpg loop, gpg as run (RSA-3072)", "speed-up over the gpg loop, gpg's best case (RSA-3072)",
		"goal ≥ 500 reports/s", "goal ≤ 64 MiB", "goal ≤ +16 MiB", "goals met",
		"curve25519     200    200 ", "200/200 (200 encrypted)", "fan-out to 200 vs 20 (curve25519)", "goal ≤ 11×",
		"intake CPU a report (gateway process, until sent)", "goal ≤ 1.0 ms", "cpu of the gateway alone", "until its 30 answers were sent", "of which the garbage collector",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "20/20 (20 encrypted)") != 4 {
		t.Errorf("not every fan-out was delivered:\n%s", text)
	}
}

func TestBenchFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"bench", "-algo", "dsa"}, `unknown algorithm "dsa"`},
		{[]string{"bench", "-n", "0"}, "-n 0"},
		{[]string{"bench", "-reports", "0"}, "-reports 0"},
		{[]string{"bench", "-smtp-parallel", "100"}, "-smtp-parallel 100"},
		{[]string{"bench", "-fanout-scale", "-1"}, "-fanout-scale -1"},
		{[]string{"bench", "-n", "20000", "-fanout-scale", "10"}, "-fanout-scale 10: want 0 to 5 with -n 20000"},
		{[]string{"bench", "extra"}, "want no arguments"},
		{[]string{"bench", "-big", "5", "-small", "5"}, "-small 5"},
		{[]string{"bench", "-small", "-1"}, "-small -1"},
	} {
		code, _, stderr := runCLI(t, nil, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.err) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.err)
		}
	}
	// The subprocess flag is not documented.
	code, stdout, _ := runCLI(t, nil, "help", "bench")
	if code != 0 || !strings.Contains(stdout, "-gpg-n") || strings.Contains(stdout, benchChildArg) || strings.Contains(stdout, benchIntakeChildArg) {
		t.Errorf("help bench: exit %d\n%s", code, stdout)
	}
}

// TestBenchInProcess runs a small bench in the test process (under -race
// too), without the parts that need the secgate binary or gpg.
func TestBenchInProcess(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "bench", "-n", "5", "-reports", "3", "-latency", "2", "-algo", "x25519", "-gpg-n", "0", "-big", "0", "-fanout-scale", "3", "-intake-in-process")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"5/5 (5 encrypted)", "15/15 (15 encrypted)", "3 cases opened, 3 acknowledgements", "2 single reports: p50", "goals met",
		"intake CPU a report (whole process)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "(c) ") || strings.Contains(stdout, "fresh process") || strings.Contains(stdout, "gateway alone") {
		t.Errorf("skipped parts were run:\n%s", stdout)
	}
}
