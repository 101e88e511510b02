package distlist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

func TestSMTPReplies(t *testing.T) {
	tests := []struct {
		local string
		state string
		code  int
		want  string // in last_reply
	}{
		{"ok", StateSent, 250, "250"},
		{"r421", StateDeferred, 421, "421"},
		{"r450", StateDeferred, 450, "450 4.3.0"},
		{"temperror", StateDeferred, 451, "451 4.3.0 try again later (at rcpt)"},
		{"r452", StateDeferred, 452, "452 4.3.1"},
		{"permerror", StateFailed, 550, "550 5.1.1 mailbox unavailable (at rcpt)"},
		{"r550", StateFailed, 550, "550 5.1.1"},
		{"data552", StateFailed, 552, "552 5.3.4 message too big (at end of data)"},
		{"r554", StateFailed, 554, "554 5.7.1"},
		{"data451", StateDeferred, 451, "(at end of data)"},
		{"dropdata", StateDeferred, 0, "data"},
	}
	e := newEnv(t, smtpsink.Options{}, nil)
	var rcpts []Recipient
	for _, tc := range tests {
		// the sink reads the fault from a word of the local part
		addr := strings.TrimPrefix(tc.local, "r") + "@sink.example"
		if tc.local == "ok" {
			addr = "ok@sink.example"
		}
		rcpts = append(rcpts, Recipient{Address: addr})
	}
	e.enqueue(Mail{Kind: "announcement", NoticeID: "faults", Content: textContent("s", "b"), Recipients: rcpts})
	e.drain()
	rows := e.rows("faults")
	for i, tc := range tests {
		r := rows[rcpts[i].Address]
		if r.State != tc.state || r.Code != tc.code || !strings.Contains(r.Reply, tc.want) {
			t.Errorf("%s: state %s code %d reply %q; want %s %d %q", tc.local, r.State, r.Code, r.Reply, tc.state, tc.code, tc.want)
		}
		if r.State == StateDeferred {
			if d := r.Next.Sub(t0); d < 54*time.Second || d > 66*time.Second {
				t.Errorf("%s: next attempt in %v, want about 1m", tc.local, d)
			}
		}
	}
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("sink accepted %d messages, want 1", n)
	}
	// One connection carried the successful and the rejected transactions;
	// 421 and the dropped DATA needed new ones.
	if c := e.sink.Connections(); c > 3 {
		t.Errorf("%d connections for %d messages", c, len(tests))
	}
	if e.sink.Resets() == 0 {
		t.Error("no RSET after a failed transaction")
	}
	var failed int
	for _, ev := range e.Events() {
		if ev.Kind == EventFailed {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d failed events, want 4", failed)
	}
	// Each was recorded with its result, for the team to be told of even
	// after a restart, and once told it is not returned again.
	stored, err := e.ob.UntoldEvents(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(e.Events()) {
		t.Fatalf("%d events recorded, %d reported", len(stored), len(e.Events()))
	}
	for i, ev := range e.Events() {
		if stored[i] != ev || ev.ID == 0 {
			t.Errorf("event %d: recorded %+v, reported %+v", i, stored[i], ev)
		}
	}
	err = e.db.Tx(context.Background(), func(tx *sql.Tx) error {
		ok, err := e.ob.MarkTold(context.Background(), tx, stored[0].ID)
		if !ok && err == nil {
			t.Error("MarkTold of an untold event: false")
		}
		if again, _ := e.ob.MarkTold(context.Background(), tx, stored[0].ID); again {
			t.Error("an event was marked told twice")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := e.ob.UntoldEvents(context.Background(), 0, 100); len(left) != len(stored)-1 {
		t.Errorf("%d untold after one was told, want %d", len(left), len(stored)-1)
	}
	if page, _ := e.ob.UntoldEvents(context.Background(), stored[1].ID, 100); len(page) != len(stored)-2 || page[0].ID != stored[2].ID {
		t.Errorf("events after %d: %+v", stored[1].ID, page)
	}
}

func TestDeferredThenSent(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "retry", Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "once.451@sink.example"}}})
	e.drain()
	r := e.rows("retry")["once.451@sink.example"]
	if r.State != StateDeferred || r.Attempts != 1 || r.Code != 451 {
		t.Fatalf("after first attempt: %+v", r)
	}
	e.drain() // not due yet: nothing happens
	if r2 := e.rows("retry")["once.451@sink.example"]; r2.Attempts != 1 {
		t.Fatalf("retried before the backoff: %+v", r2)
	}
	e.clock.Advance(2 * time.Minute)
	e.drain()
	r = e.rows("retry")["once.451@sink.example"]
	if r.State != StateSent || r.Attempts != 2 {
		t.Fatalf("after the retry: %+v", r)
	}
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM outbox_attempt WHERE outbox_id = ?`, r.ID).Scan(&n)
	if n != 2 {
		t.Errorf("%d history rows, want 2", n)
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.MaxAttempts = 4 })
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "n", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "temperror@sink.example"}}})
	for range 6 {
		e.drain()
		e.clock.Advance(24 * time.Hour)
	}
	r := e.rows("n")["temperror@sink.example"]
	if r.State != StateFailed || r.Attempts != 4 || !strings.Contains(r.Reply, "gave up after 4 attempts") {
		t.Fatalf("%+v", r)
	}
	var kinds []string
	for _, ev := range e.Events() {
		kinds = append(kinds, ev.Kind)
	}
	if strings.Join(kinds, ",") != "delayed,failed" {
		t.Errorf("events %v, want delayed then failed", kinds)
	}
}

func TestBackoffGrows(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	prev := time.Duration(0)
	for n := 1; n <= 12; n++ {
		d := e.ob.backoff(n)
		want := min(time.Minute<<(n-1), 12*time.Hour)
		if d < want*9/10 || d > want*11/10 {
			t.Errorf("backoff(%d) = %v, want %v ±10%%", n, d, want)
		}
		if n < 8 && d <= prev {
			t.Errorf("backoff(%d) = %v not above %v", n, d, prev)
		}
		prev = d
	}
}

func TestSlowServerTimeout(t *testing.T) {
	e := newEnv(t, smtpsink.Options{Delay: 3 * time.Second}, func(c *Config) { c.SMTP.CommandTimeout = 200 * time.Millisecond })
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "slow", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "timeout@sink.example"}}})
	e.drain()
	r := e.rows("slow")["timeout@sink.example"]
	if r.State != StateDeferred || !strings.Contains(r.Reply, "timeout") {
		t.Fatalf("%+v", r)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.SMTP.Addr = addr })
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "refused", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "a@sink.example"}}})
	e.drain()
	r := e.rows("refused")["a@sink.example"]
	if r.State != StateDeferred || !strings.Contains(r.Reply, "connect:") {
		t.Fatalf("%+v", r)
	}
}

// selfSigned returns a TLS config for 127.0.0.1 and the PEM of its cert.
func selfSigned(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLSModes(t *testing.T) {
	tc, certPEM := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, certPEM, 0o600)
	tests := []struct {
		name     string
		sink     smtpsink.Options
		mode, ca string
		state    string
		reply    string
	}{
		{"starttls+auth", smtpsink.Options{TLS: tc, User: "gw", Password: "pw"}, TLSStartTLS, caFile, StateSent, "250"},
		{"implicit+auth", smtpsink.Options{TLS: tc, Implicit: true, User: "gw", Password: "pw"}, TLSImplicit, caFile, StateSent, "250"},
		{"untrusted cert", smtpsink.Options{TLS: tc}, TLSStartTLS, "", StateDeferred, "certificate"},
		{"implicit to plain server", smtpsink.Options{}, TLSImplicit, caFile, StateDeferred, "tls handshake"},
		{"no starttls offered", smtpsink.Options{}, TLSStartTLS, caFile, StateDeferred, "STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.sink, func(c *Config) {
				c.SMTP.TLS, c.SMTP.CAFile, c.SMTP.User, c.SMTP.Password = tt.mode, tt.ca, "gw", "pw"
				c.SMTP.DialTimeout = 2 * time.Second
			})
			e.enqueue(Mail{Kind: "sender-notice", NoticeID: "tls", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "a@sink.example"}}})
			e.drain()
			r := e.rows("tls")["a@sink.example"]
			if r.State != tt.state || !strings.Contains(r.Reply, tt.reply) {
				t.Fatalf("state %s reply %q; want %s %q", r.State, r.Reply, tt.state, tt.reply)
			}
		})
	}
}

func TestAuthFailureDefers(t *testing.T) {
	e := newEnv(t, smtpsink.Options{User: "gw", Password: "right"}, func(c *Config) { c.SMTP.User, c.SMTP.Password = "gw", "wrong" })
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "auth", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "a@sink.example"}}})
	e.drain()
	if r := e.rows("auth")["a@sink.example"]; r.State != StateDeferred || !strings.Contains(r.Reply, "auth") {
		t.Fatalf("%+v", r)
	}
}

func TestPlainOnlyOnLoopback(t *testing.T) {
	c := SMTPConfig{Addr: "mail.example.org:587", TLS: TLSNone}.WithDefaults("x")
	if err := c.Validate(); err == nil {
		t.Fatal("tls = none accepted for a remote host")
	}
	c.Addr = "127.0.0.1:25"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestReusedConnectionGone: the server dropped the idle connection; the
// next message goes over a new one without being deferred.
func TestReusedConnectionGone(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, nil)
	s := &sender{o: e.ob}
	defer s.close()
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "g1", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "a@sink.example"}}})
	e.enqueue(Mail{Kind: "sender-notice", NoticeID: "g2", Content: textContent("s", "b"), Recipients: []Recipient{{Address: "b@sink.example"}}})
	jobs, _, err := e.ob.claim(context.Background(), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim %d %v", len(jobs), err)
	}
	if out := s.deliver(context.Background(), jobs[0]); out.state != StateSent {
		t.Fatalf("first: %+v", out)
	}
	e.sink.DropConnections()
	if out := s.deliver(context.Background(), jobs[1]); out.state != StateSent {
		t.Fatalf("after the drop: %+v", out)
	}
	if c := e.sink.Connections(); c != 2 {
		t.Errorf("%d connections, want 2", c)
	}
}
