package distlist

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// BenchmarkFanOut1000 measures the whole path of one notice to 1,000
// distributors: outbox rows and crypto (Enqueue: sign once, seal 1,000
// times, store), then delivery (key re-check, guard, SMTP over parallel
// reused connections to the in-process sink on loopback, results
// committed). x25519 uses 1,000 distinct keys; RSA-3072 cycles through 16
// distinct keys (generating 1,000 takes minutes), which only makes the
// parsed-key cache warmer.
func BenchmarkFanOut1000(b *testing.B) {
	for _, alg := range []struct {
		name, alg string
		distinct  int
	}{{"x25519", "x25519", 1000}, {"rsa3072", "rsa", 16}} {
		b.Run(alg.name, func(b *testing.B) { benchFanOut(b, alg.alg, alg.distinct, 1000) })
	}
}

// BenchmarkFanOutScale is the same notice to 1,000 and to 10,000
// distributors (curve25519, 1,000 distinct keys cycled): the cost of a
// recipient (cpu-ms/op divided by n) stays the same when the list is ten
// times longer (issue #22: linear fan-out).
func BenchmarkFanOutScale(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchFanOut(b, "x25519", 1000, n) })
	}
}

// benchFanOut sends one notice to n distributors with distinct keys of alg
// for each op.
func benchFanOut(b *testing.B, alg string, distinct, n int) {
	ctx := context.Background()
	keys := make([]*crypto.Key, distinct)
	for i := range keys {
		k, err := crypto.GenerateKey("d", fmt.Sprintf("d%d@distro.example", i), crypto.GenerateOptions{Algorithm: alg, Created: time.Now().Add(-time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k.Public()
	}
	rcpts := make([]Recipient, n)
	for i := range rcpts {
		rcpts[i] = Recipient{Name: fmt.Sprintf("Distributor %d", i), Address: fmt.Sprintf("d%d@distro.example", i), Key: keys[i%len(keys)]}
	}
	team, err := crypto.GenerateKey("Security Team", "security@example.org", crypto.GenerateOptions{Algorithm: alg, Created: time.Now().Add(-time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "gw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	ob, err := NewOutbox(ctx, OutboxOptions{DB: db, TeamKey: team, Clock: clock.Real{}, Config: Config{
		From: "security@example.org", SMTP: SMTPConfig{Addr: sink.Addr, TLS: TLSNone, Parallel: 8}}})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ob.Run(rctx) }()
	defer func() { cancel(); <-done }()
	var enq, del time.Duration
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		notice := fmt.Sprintf("bench/%d", i)
		start := time.Now()
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			sk, err := ob.Enqueue(ctx, tx, Mail{Kind: "embargo-notice", NoticeID: notice, Encrypt: true,
				Content: textContent("Embargoed: benchmark", "Embargoed text of a realistic notice length.\r\n"), Recipients: rcpts})
			if err == nil && len(sk) > 0 {
				err = fmt.Errorf("%d skipped: %s", len(sk), sk[0].Reason)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		queued := time.Now()
		ob.Kick()
		// The sink counts the messages it accepted at no cost; the rows'
		// states are read once it holds them all (reading them all every
		// few milliseconds would cost in proportion to n, n times over).
		for {
			if sink.Len() < n {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			var open int
			db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE notice_id = ? AND state IN ('queued', 'sending')`, notice).Scan(&open)
			if open == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		enq += queued.Sub(start)
		del += time.Since(queued)
		b.StopTimer()
		var sent int
		db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE notice_id = ? AND state = 'sent'`, notice).Scan(&sent)
		if sent != n || len(sink.Messages()) != n {
			b.Fatalf("sent %d rows, sink has %d, want %d", sent, len(sink.Messages()), n)
		}
		sink.Reset()
		b.StartTimer()
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*n), "cpu-µs/recipient")
	b.ReportMetric(float64(enq.Milliseconds())/float64(b.N), "enqueue-ms/op")
	b.ReportMetric(float64(del.Milliseconds())/float64(b.N), "deliver-ms/op")
}

// cpuTime is the user+system CPU time of the process (the sink included):
// a figure that does not depend on how busy the machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
