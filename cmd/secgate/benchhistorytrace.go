package main

import (
	"fmt"
	"os"
	"runtime/trace"
)

// startHistoryTrace starts the runtime trace of one round's intake on one
// database when -history-trace names a prefix, and returns its stop (a
// no-op without one). The trace shows where intake waits: system calls
// (go tool trace -pprof=syscall: the writes, fsyncs and reads of SQLite),
// blocking on channels and locks (-pprof=sync) and the scheduler's delay
// (-pprof=sched), each by stack.
func (b *bench) startHistoryTrace(which string, round int) (stop func() error, err error) {
	if b.o.HistoryTrace == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%d.trace", b.o.HistoryTrace, which, round))
	if err != nil {
		return nil, fmt.Errorf("-history-trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-history-trace: %w", err)
	}
	return func() error {
		trace.Stop()
		if err := f.Close(); err != nil {
			return fmt.Errorf("-history-trace: %w", err)
		}
		return nil
	}, nil
}
