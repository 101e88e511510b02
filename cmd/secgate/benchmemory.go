package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// benchSmallUser is the mailbox of the small report of (d), beside the big
// one's: each is ingested by a fresh process of its own.
const benchSmallUser = "security-small@bench.test"

// Goals of (d): memory flat in message size.
const (
	benchPeakGoalMiB  = 64 // peak RSS ingesting the big report, and once its mail is sent
	benchSlopeGoalMiB = 16 // what the big report may cost more than the small one
)

// benchMemOptions are the flags of (d).
type benchMemOptions struct {
	Small      int    // MiB of the small report (0: none)
	Only       bool   // run (d) alone
	MemProfile string // heap profile of the big report's process
}

func (o *benchMemOptions) flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Small, "small", 5, "size in MiB of a second report ingested in a fresh process of its own, to compare with -big (0: skip)")
	fs.BoolVar(&o.Only, "memory-only", false, "run only (d), the big and small reports in fresh processes")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile (go tool pprof; -sample_index=alloc_space shows what allocated most) of the big report's process to this file")
}

// childArgs are the arguments of the process that ingests the report
// configured at cfgPath (big: the -big one, which -memprofile profiles).
func (o *benchMemOptions) childArgs(cfgPath string, big bool) []string {
	args := []string{"bench", benchChildArg, cfgPath}
	if big && o.MemProfile != "" {
		args = append(args, o.MemProfile)
	}
	return args
}

// memory runs (d): the small report, then the big one, each ingested by a
// fresh process of its own, in this run.
func (b *bench) memory(ctx context.Context, cfg *Config, m *benchMemory) error {
	if b.o.Mem.Small > 0 && b.o.Big > 0 {
		b.step("one %d MiB report in a fresh process\n", b.o.Mem.Small)
		r, err := b.bigReport(ctx, cfg, b.o.Mem.Small, benchSmallUser)
		if err != nil {
			return err
		}
		m.SmallReport = r
	}
	if b.o.Big > 0 {
		b.step("one %d MiB report in a fresh process\n", b.o.Big)
		r, err := b.bigReport(ctx, cfg, b.o.Big, benchBigUser)
		if err != nil {
			return err
		}
		m.BigReport = r
	}
	return nil
}

// benchPeakHeap, when a profile is asked for (extra holds its path),
// keeps the heap profile of the moment the heap live after a collection
// was largest: what the process held, not what it had allocated.
func benchPeakHeap(ctx context.Context, extra []string) func() []byte {
	if len(extra) == 0 {
		return nil
	}
	var (
		mu   sync.Mutex
		best uint64
		prof []byte
	)
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rtmetrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > best {
				var b bytes.Buffer
				if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
					mu.Lock()
					best, prof = live, b.Bytes()
					mu.Unlock()
				}
			}
		}
	}()
	return func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return prof
	}
}

// benchChildProfile writes the heap profile the child was asked for, if
// any (extra holds its path): the one peak kept, or else all allocations.
func benchChildProfile(extra []string, peak func() []byte) error {
	if len(extra) == 0 {
		return nil
	}
	if p := peak(); p != nil {
		return os.WriteFile(extra[0], p, 0o600)
	}
	if err := writeAllocProfile(extra[0]); err != nil {
		return fmt.Errorf("-memprofile: %w", err)
	}
	return nil
}

// writeAllocProfile writes what this process allocated since it started
// (go tool pprof -sample_index=alloc_space) to path.
func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile is as of the last collection
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return err
	}
	return f.Close()
}

// print writes the figures of one report of (d).
func (big *bigResult) print(w io.Writer) {
	fmt.Fprintf(w, "    one %.1f MiB encrypted report (%.1f MiB attachment), ingested by a fresh process running the gateway\n",
		mibOf(big.RawBytes), mibOf(big.AttachBytes))
	fmt.Fprintf(w, "    (soft memory limit: %s, [gateway] memory_limit_mib):\n", big.MemoryLimit)
	if !big.Case {
		fmt.Fprintf(w, "      no case: %s\n", big.Outcome)
		return
	}
	fmt.Fprintf(w, "      %.0f MiB after start, %.0f MiB peak until the case was opened and its mail queued (%.2f s),\n",
		big.BaseMiB, big.IngestMiB, float64(big.Seconds))
	fmt.Fprintf(w, "      %.0f MiB peak once the acknowledgement and team copies were sent (delivered: %v)\n", big.DeliveredMiB, big.Delivered)
}

// goals adds the goals of (d).
func (m *benchMemory) goals(add func(what, goal, value string, met bool)) {
	big, small := m.BigReport, m.SmallReport
	if big == nil {
		return
	}
	size := fmt.Sprintf("%.1f MiB", mibOf(big.RawBytes))
	limit := "≤ " + strconv.Itoa(benchPeakGoalMiB) + " MiB"
	add("peak RSS, one "+size+" report", limit, fmt.Sprintf("%.0f MiB", big.IngestMiB), big.Case && big.IngestMiB <= benchPeakGoalMiB)
	add("same, once its mail is sent", limit, fmt.Sprintf("%.0f MiB", big.DeliveredMiB),
		big.Delivered && big.DeliveredMiB <= benchPeakGoalMiB)
	if small == nil {
		return
	}
	more := max(big.IngestMiB, big.DeliveredMiB) - max(small.IngestMiB, small.DeliveredMiB)
	add(fmt.Sprintf("peak RSS, %s report over a %.1f MiB one", size, mibOf(small.RawBytes)), "≤ +"+strconv.Itoa(benchSlopeGoalMiB)+" MiB",
		fmt.Sprintf("%+.0f MiB", more), big.Case && small.Case && more <= benchSlopeGoalMiB)
}

func mibOf(n int) float64 { return float64(n) / (1 << 20) }
