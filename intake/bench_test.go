package intake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// benchEnv is the real processing stack (crypto, cases, outbox enqueue)
// without a mail server: the outbox is not running.
type benchEnv struct {
	db     *store.DB
	team   *crypto.Key
	proc   *Processor
	signed *crypto.Signed // one report, signed once
	rep    *crypto.Key
	cfg    Config
}

func newBenchEnv(b testing.TB) *benchEnv {
	b.Helper()
	ctx := context.Background()
	e := &benchEnv{}
	created := time.Now().Add(-time.Hour)
	var err error
	e.team, err = crypto.GenerateKey("Security Team", "security@example.test", crypto.GenerateOptions{Algorithm: "x25519", Created: created})
	if err != nil {
		b.Fatal(err)
	}
	// Data at rest sealed with a data key, as the gateway seals it.
	dk, err := crypto.GenerateDataKey(1)
	if err != nil {
		b.Fatal(err)
	}
	e.team = e.team.WithDataKeys(dk)
	e.db, err = store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.db.Close() })
	dir := distlist.NewDirectory(e.db, clock.Real{}, nil)
	err = e.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, u := range []string{"alice", "bob"} {
			k, err := crypto.GenerateKey(u, u+"@example.test", crypto.GenerateOptions{Created: created})
			if err != nil {
				return err
			}
			pub, _ := k.ArmorPublic()
			if _, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: u, Address: u + "@example.test", Role: distlist.RoleLead, Rota: i + 1, Key: []byte(pub)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	from := "Security Team <security@example.test>"
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: e.db, Directory: dir, TeamKey: e.team, Clock: clock.Real{}, Config: distlist.Config{
		From: from, SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone},
	}})
	if err != nil {
		b.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	project := templates.Project{Name: "Example", TeamAddress: "security@example.test"}
	wf, err := cases.New(cases.Options{DB: e.db, Directory: dir, Outbox: ob, Templates: set, TeamKey: e.team, TeamAddress: from, Project: project})
	if err != nil {
		b.Fatal(err)
	}
	e.cfg = Config{Address: "127.0.0.1:143", User: "security@example.test", TLS: TLSPlainLoopback}
	e.proc, err = NewStackProcessor(StackOptions{Config: e.cfg, DB: e.db, TeamKey: e.team, Directory: dir, Outbox: ob, Workflow: wf,
		Templates: set, Project: project})
	if err != nil {
		b.Fatal(err)
	}
	e.rep, err = crypto.GenerateKey("Reporter", "reporter@outside.example", crypto.GenerateOptions{Created: created})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nA heap overflow in the token parser: send 70000 bytes of 'A'.\r\n")
	e.signed, err = e.rep.Sign(crypto.Content{Subject: "Heap overflow", From: "reporter@outside.example", Entity: body}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// storeReports stores reports 0 to n-1 as the poller does, one batch, and
// returns them with their inbound IDs.
func (e *benchEnv) storeReports(t testing.TB, ctx context.Context, n int) ([]fetched, []int64) {
	t.Helper()
	msgs := make([]fetched, n)
	for i := range msgs {
		raw := e.report(t, i)
		msgs[i] = fetched{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}
	}
	ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, msgs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return msgs, ids
}

// report returns encrypted report number n, signed by the reporter. Each
// report's text is its own: the same text sealed anew is a replay (its
// decrypted literal data has the same digest), which opens no case.
func (e *benchEnv) report(b testing.TB, n int) []byte {
	body := fmt.Appendf(nil, "Content-Type: text/plain; charset=utf-8\r\n\r\nA heap overflow in the token parser (report %d): send 70000 bytes of 'A'.\r\n", n)
	signed, err := e.rep.Sign(crypto.Content{Subject: "Heap overflow", From: "reporter@outside.example", Entity: body}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := signed.SealFor(e.team.Public(), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	// Each from a reporter of its own, as a burst of reports is: one
	// sender is held to the rate limit.
	fmt.Fprintf(&buf, "From: Reporter <reporter-%d@outside.example>\r\nTo: security@example.test\r\nSubject: ...\r\n"+
		"Date: %s\r\nMessage-ID: <bench-%d@outside.example>\r\nMIME-Version: 1.0\r\n", n, time.Now().Format(time.RFC1123Z), n)
	buf.Write(sealed)
	return buf.Bytes()
}

// BenchmarkIntakeProcess measures durable storing plus processing of
// encrypted reports (decrypt, open a case, sign and seal the ack and one
// copy per member into the outbox), in batches as the poller does: each
// report handed to the processor as stored (handed-over), as the poller
// hands them, or read back from the database (read-back), as after a
// restart.
func BenchmarkIntakeProcess(b *testing.B) {
	for _, handOver := range []bool{false, true} {
		name := "read-back"
		if handOver {
			name = "handed-over"
		}
		b.Run(name, func(b *testing.B) { benchIntakeProcess(b, handOver) })
	}
}

func benchIntakeProcess(b *testing.B, handOver bool) {
	e := newBenchEnv(b)
	// A context that ends, with short statements, as the gateway's.
	ctx, cancel := context.WithCancel(store.ShortStatements(context.Background()))
	defer cancel()
	msgs := make([]fetched, b.N)
	for i := range msgs {
		raw := e.report(b, i)
		msgs[i] = fetched{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}
	}
	b.ResetTimer()
	start, g0, s0, cpu0 := time.Now(), goroutinesCreated(), e.db.Statements(), processCPU()
	for i := 0; i < len(msgs); i += 100 {
		batch := msgs[i:min(i+100, len(msgs))]
		ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, batch, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if handOver {
			err = e.proc.processStored(ctx, ids, handedOver(batch, ids))
		} else {
			err = e.proc.ProcessBatch(ctx, ids)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	el, started, stmts, cpu := time.Since(start), goroutinesCreated()-g0, e.db.Statements()-s0, processCPU()-cpu0
	b.StopTimer()
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE class = 'report'`).Scan(&n)
	if n != b.N {
		b.Fatalf("%d reports opened cases, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "reports/s")
	b.ReportMetric(float64(started)/float64(b.N), "goroutines/report")
	b.ReportMetric(float64(stmts)/float64(b.N), "statements/report")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/report")
}

// processCPU is the process's user and system CPU time, which depends
// less than the elapsed time on what else the machine runs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// goroutinesCreated returns how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkIntakeIdleLatency measures, under IDLE, the time from the
// delivery of an encrypted report into the mailbox (an APPEND on the
// in-memory IMAP server) to the committed case, one report at a time, and
// the throughput of a burst.
func BenchmarkIntakeIdleLatency(b *testing.B) {
	e := newBenchEnv(b)
	s := startMem(b, nil)
	cfg := e.cfg
	cfg.Address = s.addr
	cfg.PasswordFile = passwordFile(b)
	p, err := NewPoller(cfg, e.db, e.team, e.proc, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	handled := make(chan int64, 1<<16)
	p.stats = func(id int64) { handled <- id }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	raws := make([][]byte, b.N)
	for i := range raws {
		raws[i] = e.report(b, i)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, raw := range raws {
		t0 := time.Now()
		if _, err := s.user.Append("INBOX", literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
		<-handled
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
	b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-s")
}

// BenchmarkIntakeIdleBurst delivers b.N encrypted reports at once and
// measures how fast the poller turns them into cases.
func BenchmarkIntakeIdleBurst(b *testing.B) {
	e := newBenchEnv(b)
	s := startMem(b, nil)
	cfg := e.cfg
	cfg.Address = s.addr
	cfg.PasswordFile = passwordFile(b)
	p, err := NewPoller(cfg, e.db, e.team, e.proc, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	handled := make(chan int64, 1<<16)
	p.stats = func(id int64) { handled <- id }
	raws := make([][]byte, b.N)
	for i := range raws {
		raws[i] = e.report(b, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	b.ResetTimer()
	start := time.Now()
	for _, raw := range raws {
		if _, err := s.user.Append("INBOX", literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		<-handled
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "reports/s")
	// Every report queued its acknowledgement and two team copies, each
	// with its sealed message.
	var cases, rows, msgs int
	r := e.db.Reader()
	if err := r.QueryRow(`SELECT count(*) FROM cases`).Scan(&cases); err != nil {
		b.Fatal(err)
	}
	if err := r.QueryRow(`SELECT count(*), (SELECT count(*) FROM outbox_message) FROM outbox`).Scan(&rows, &msgs); err != nil {
		b.Fatal(err)
	}
	if cases != b.N || rows != 3*b.N || msgs != rows {
		b.Fatalf("%d reports: %d cases, %d outbox rows, %d messages; want %d, %d, %d", b.N, cases, rows, msgs, b.N, 3*b.N, 3*b.N)
	}
}

// BenchmarkIntakeDovecotLatency measures delivery-to-case latency on the
// real stack: SMTP into Postfix, then either Dovecot's IDLE notification
// (which Dovecot holds about 0.5 s after a delivery) or, with push, the
// post of Dovecot's push_notification plugin, which kicks the poller out of
// IDLE at once; then fetch, decrypt, case.
func BenchmarkIntakeDovecotLatency(b *testing.B) {
	b.Run("idle", func(b *testing.B) { dovecotLatency(b, false) })
	b.Run("idle+push", func(b *testing.B) { dovecotLatency(b, true) })
}

func dovecotLatency(b *testing.B, push bool) {
	g := startGatewayOpts(b, push, nil)
	rep, err := crypto.GenerateKey("Reporter", g.repAddr, crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := rep.Sign(crypto.Content{Subject: "Heap overflow", From: g.repAddr,
		Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nA heap overflow.\r\n")}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	raws := make([][]byte, b.N)
	for i := range raws {
		sealed, err := signed.SealFor(g.team.Public(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = append([]byte(fmt.Sprintf("From: Reporter <%s>\r\nTo: %s\r\nSubject: ...\r\nMessage-ID: <dl-%d@outside.example>\r\nMIME-Version: 1.0\r\n",
			g.repAddr, g.stack.Addr("security"), i)), sealed...)
	}
	p, err := NewPoller(g.cfg, g.db, g.team, g.proc, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	handled := make(chan int64, 1<<16)
	p.stats = func(id int64) { handled <- id }
	connected := make(chan struct{})
	var once sync.Once
	p.OnConnected = func(up bool) { once.Do(func() { close(connected) }) }
	if push {
		g.servePush(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-connected
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, raw := range raws {
		t0 := time.Now()
		g.send(raw)
		<-handled
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
	b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-s")
}
