package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// The gateway of (b) runs in a fresh process of its own, as serve does,
// while the IMAP server and the SMTP sink, which stand in for Dovecot and
// Postfix, stay in this one: its CPU time is the gateway's alone. That
// process does all the gateway does for a report (fetch, store, open,
// case, audit, seal, enqueue, send over SMTP); this one only delivers the
// reports, serves IMAP and SMTP, and reads the child's database to see
// how far it got.
const (
	benchIntakeUser     = "security-intake@bench.test"
	benchIntakeChildArg = "-intake-child" // hidden: the gateway of (b) in a fresh process
)

// benchChildWait is how long the gateway process of (b) may take to get
// ready or to answer a command before it is ended.
const benchChildWait = 2 * time.Minute

// intakeChild is the gateway process of (b), driven line by line over
// its standard input: "start", "cpu", "kick" and "stop" each answer
// "cpu NANOSECONDS gc NANOSECONDS", its CPU time (user+system, every
// thread) at that moment and the part of it the garbage collector took; "start" and "stop" also start and stop its CPU profile, if it
// writes one. The end of its input ends it.
type intakeChild struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	db     *store.DB // its database, read by this process
	// gc is the collector's CPU time in the child's last answer (the
	// runtime's estimate), gc0 the one at "start".
	gc, gc0 time.Duration
}

// startIntakeChild starts the gateway of (b) on the mailbox benchIntakeUser
// and returns once it is running and idle.
func (b *bench) startIntakeChild(ctx context.Context, cfg *Config) (*intakeChild, error) {
	path, err := b.childConfig(cfg, benchIntakeUser, 0)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"bench", benchIntakeChildArg, path}
	if b.o.IntakeProfile != "" || b.o.IntakeMemProfile != "" {
		args = append(args, b.o.IntakeProfile, b.o.IntakeMemProfile)
	}
	c := &intakeChild{cmd: exec.CommandContext(ctx, exe, args...)}
	c.cmd.Stderr = &c.stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: intake process: %w", err)
	}
	// A child that never gets ready is ended, which ends the read.
	t := time.AfterFunc(benchChildWait, func() { c.cmd.Process.Kill() })
	line, err := c.out.ReadString('\n')
	t.Stop()
	if err != nil || line != "ready\n" {
		c.close()
		return nil, fmt.Errorf("bench: intake process did not start: %q %v: %s", line, err, benchLastLine(c.stderr.String()))
	}
	if c.db, err = store.Open(ctx, filepath.Join(b.dir, benchChildName(benchIntakeUser)+".db")); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// ask sends the child one command and returns its CPU time.
func (c *intakeChild) ask(command string) (time.Duration, error) {
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		return 0, fmt.Errorf("bench: intake process: %s: %w", command, err)
	}
	t := time.AfterFunc(benchChildWait, func() { c.cmd.Process.Kill() })
	line, err := c.out.ReadString('\n')
	t.Stop()
	var cpu, gc int64
	if _, serr := fmt.Sscanf(line, "cpu %d gc %d\n", &cpu, &gc); err != nil || serr != nil {
		return 0, fmt.Errorf("bench: intake process: %s: answered %q (%v): %s", command, line, err, benchLastLine(c.stderr.String()))
	}
	c.gc = time.Duration(gc)
	if command == "start" {
		c.gc0 = c.gc
	}
	return time.Duration(cpu), nil
}

// close ends the child and waits for it.
func (c *intakeChild) close() error {
	if c.db != nil {
		c.db.Close()
	}
	c.in.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("bench: intake process: %v: %s", err, benchLastLine(c.stderr.String()))
	}
	return nil
}

// intakeInChild runs (b) against the gateway in a fresh process.
func (b *bench) intakeInChild(ctx context.Context, cfg *Config) (*intakeResult, error) {
	c, err := b.startIntakeChild(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b.child, b.teamAddr = c, benchIntakeUser
	defer func() { b.child, b.teamAddr = nil, "" }()
	r, err := b.intake(ctx)
	if cerr := c.close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return r, err
}

// reader reads the database of the gateway (b) measures.
func (b *bench) reader() *sql.DB {
	if b.child != nil {
		return b.child.db.Reader()
	}
	return b.g.db.Reader()
}

// kick wakes the outbox of the gateway (b) measures.
func (b *bench) kick() {
	if b.child != nil {
		b.child.ask("kick")
		return
	}
	b.g.outbox.Kick()
}

// gatewayCPU asks the gateway's own process for its CPU time, sending
// command; 0 when the gateway runs in this process.
func (b *bench) gatewayCPU(command string) (time.Duration, error) {
	if b.child == nil {
		return 0, nil
	}
	return b.child.ask(command)
}

// runBenchIntakeChild runs the gateway configured at cfgPath as serve
// does (its soft memory limit and collector target too) and answers the
// commands of intakeChild on its standard input; extra may hold the path
// of its CPU profile, from "start" to "stop".
func runBenchIntakeChild(ctx context.Context, a *app, cfgPath string, extra []string) error {
	g, _, err := openBenchChild(ctx, a, cfgPath)
	if err != nil {
		return err
	}
	defer g.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.run(rctx) }()
	defer func() { cancel(); <-done }()
	benchSettle(5 * time.Second)
	fmt.Fprintln(a.stdout, "ready")
	var profile *os.File
	defer func() {
		if profile != nil {
			pprof.StopCPUProfile()
			profile.Close()
		}
	}()
	sc := bufio.NewScanner(a.stdin)
	for sc.Scan() {
		switch cmd := sc.Text(); cmd {
		case "start":
			if len(extra) > 0 && extra[0] != "" && profile == nil {
				if profile, err = os.Create(extra[0]); err != nil {
					return fmt.Errorf("-intake-cpuprofile: %w", err)
				}
				if err := pprof.StartCPUProfile(profile); err != nil {
					return fmt.Errorf("-intake-cpuprofile: %w", err)
				}
			}
		case "stop":
			if profile != nil {
				pprof.StopCPUProfile()
				if err := profile.Close(); err != nil {
					return fmt.Errorf("-intake-cpuprofile: %w", err)
				}
				profile = nil
			}
			if len(extra) > 1 && extra[1] != "" {
				if err := writeAllocProfile(extra[1]); err != nil {
					return fmt.Errorf("-intake-memprofile: %w", err)
				}
			}
		case "kick":
			g.outbox.Kick()
		case "cpu":
		default:
			return fmt.Errorf("bench: intake process: unknown command %q", cmd)
		}
		fmt.Fprintf(a.stdout, "cpu %d gc %d\n", benchCPUTime(), benchGCTime())
	}
	return sc.Err()
}

// benchSettle waits, at most max, until this process has spent less than
// a millisecond of CPU in 50 ms: the gateway's start (its first poll, the
// key report) is done and it waits for mail.
func benchSettle(max time.Duration) {
	deadline := time.Now().Add(max)
	for last := benchCPUTime(); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		now := benchCPUTime()
		if now-last < time.Millisecond {
			return
		}
		last = now
	}
}

// intakeSent waits until the outbox rows after out0 (the burst's answers)
// are sent, and records the gateway's CPU time since gw0 and the time
// since start.
func (b *bench) intakeSent(ctx context.Context, r *intakeResult, out0 int64, start time.Time, gw0 time.Duration) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var open int
		if err := b.reader().QueryRowContext(ctx, `SELECT coalesce(sum(state IN ('queued', 'sending', 'deferred')), 0),
			coalesce(sum(state = 'sent'), 0) FROM outbox WHERE id > ?`, out0).Scan(&open, &r.Sent); err != nil {
			return err
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: intake: %d answers not sent after a minute (%s)", open, b.outboxSummary(ctx, out0))
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.SentSeconds = benchSecs(time.Since(start))
	gw, err := b.gatewayCPU("stop")
	r.GatewaySentCPU, r.GatewayGC = benchSecs(gw-gw0), benchSecs(b.child.gc-b.child.gc0)
	return err
}

// outboxSummary says in which states the outbox rows after out0 are, for
// errors.
func (b *bench) outboxSummary(ctx context.Context, out0 int64) string {
	rows, err := b.reader().QueryContext(ctx, `SELECT state, last_reply, count(*) FROM outbox WHERE id > ? GROUP BY 1, 2`, out0)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var state, last string
		var n int
		if rows.Scan(&state, &last, &n) == nil {
			parts = append(parts, fmt.Sprintf("%d %s %s", n, state, last))
		}
	}
	return "outbox: " + strings.Join(parts, ", ")
}

// benchGCTime is the CPU time this process's garbage collector took, as
// the runtime estimates it (its idle-time marking included).
func benchGCTime() time.Duration {
	m := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(m)
	if m[0].Value.Kind() != rtmetrics.KindFloat64 {
		return 0
	}
	return time.Duration(m[0].Value.Float64() * float64(time.Second))
}
