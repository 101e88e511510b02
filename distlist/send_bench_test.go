package distlist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
)

// answer is a message shaped like a report's acknowledgement as the
// outbox sends it: the outer header with the team's Autocrypt field, a
// body of a few kilobytes signed and sealed for rcpt, whose key ID is
// returned with it.
func answer(tb testing.TB, rcpt string) ([]byte, uint64) {
	tb.Helper()
	team := testKey(tb, "security@example.org", "x25519", false)
	key := testKey(tb, rcpt, "x25519", false)
	kid, err := key.EncryptionKeyID(t0)
	if err != nil {
		tb.Fatal(err)
	}
	body := strings.Repeat("Thank you for your report. We will answer within three days.\n", 60)
	s, err := team.Sign(textContent("Re: a report", body), t0)
	if err != nil {
		tb.Fatal(err)
	}
	ac, err := team.AutocryptHeader("security@example.org")
	if err != nil {
		tb.Fatal(err)
	}
	h := outer{From: "Security Team <security@example.org>", To: formatAddress("Rita Reporter", rcpt), Subject: crypto.ObscuredSubject,
		Date: t0, MessageID: "ack.1@secgate.example.org", InReplyTo: "<report.1@reporter.example>", Auto: true, Autocrypt: ac}
	raw, err := s.AppendSealed(h.header(s.SealedLen(), true).Bytes(), key, t0)
	if err != nil {
		tb.Fatal(err)
	}
	return raw, kid
}

// BenchmarkGuard is the guard over one acknowledgement held in memory, as
// smtpConn.send runs it before DATA.
func BenchmarkGuard(b *testing.B) {
	const addr = "rita@reporter.example"
	raw, kid := answer(b, addr)
	j := &job{kind: "ack", caseID: 7, encrypt: true, recipient: addr, raw: raw}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := guard(j.message(context.Background()), j, kid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend is one SMTP transaction of an acknowledgement over a
// reused connection to the in-process sink on loopback, as a delivery
// worker makes it (MAIL, RCPT, the guard, DATA, the data and its end);
// the sink's side is counted too (cpu-µs/op: the process's CPU, both
// sides, which the time of an op, mostly waiting, does not show).
func BenchmarkSend(b *testing.B) {
	const addr = "rita@reporter.example"
	raw, kid := answer(b, addr)
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	ctx := context.Background()
	conn, err := dialSMTP(ctx, SMTPConfig{Addr: sink.Addr, TLS: TLSNone, CommandTimeout: time.Minute, SubmissionTimeout: time.Minute, DialTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.close()
	j := &job{kind: "ack", caseID: 7, encrypt: true, recipient: addr, envFrom: "bounce@secgate.example.org", raw: raw}
	clk := clock.NewFake(t0)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := conn.send(ctx, j, kid, &smtp.MailOptions{Size: j.size()}, clk); err != nil {
			b.Fatal(err)
		}
		if n++; n%1000 == 0 {
			sink.Reset() // the sink keeps what it receives
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
