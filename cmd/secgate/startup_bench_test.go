package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// BenchmarkStartProjects times a restart of 20 projects of 10 members and
// 50 distributors each (secgate bench -projects' configuration) as serve
// starts them (startParallel at a time) and one project after another:
// every file loaded and checked, every team key unlocked, every gateway
// opened. It reports the wall-clock time of one project's start (ms/project)
// and of its parts, and the process's CPU time (ms-cpu/project, what a busy
// machine moves least); -cpuprofile shows where start-up goes.
func BenchmarkStartProjects(b *testing.B) {
	const n = 20
	bb := &bench{o: benchOptions{Parallel: 4}, log: slog.New(slog.DiscardHandler), progress: io.Discard, start: time.Now(), dir: b.TempDir(),
		imap: &benchIMAP{Addr: "127.0.0.1:1"}} // nothing connects to it: the gateways are only opened
	var err error
	if bb.sink, err = smtpsink.Start(smtpsink.Options{User: benchTeam, Password: benchPassword}); err != nil {
		b.Fatal(err)
	}
	defer bb.sink.Close()
	top, _, err := bb.setupProjects(time.Now(), n)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var st startupResult
	gws, err := bb.startProjects(ctx, top, &st, startParallel()) // the first start creates the databases
	if err != nil {
		b.Fatal(err)
	}
	closeGateways(gws)
	for _, par := range []int{startParallel(), 1} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			var sum startupResult
			var cpu time.Duration
			for b.Loop() {
				cpu0 := benchCPUTime()
				gws, err := bb.startProjects(ctx, top, &st, par)
				cpu += benchCPUTime() - cpu0
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				closeGateways(gws)
				runtime.GC()
				b.StartTimer()
				sum.Load += st.Load
				sum.Unlock += st.Unlock
				sum.Open += st.Open
			}
			per := float64(n*b.N) / 1000
			b.ReportMetric(float64(sum.Load+sum.Unlock+sum.Open)/per, "ms/project")
			b.ReportMetric(cpu.Seconds()/per, "ms-cpu/project")
			b.ReportMetric(float64(sum.Load)/per, "ms-load/project")
			b.ReportMetric(float64(sum.Unlock)/per, "ms-unlock/project")
			b.ReportMetric(float64(sum.Open)/per, "ms-open/project")
		})
	}
}

func closeGateways(gws []*gateway) {
	for _, g := range gws {
		g.Close()
	}
}
