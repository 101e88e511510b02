package intake

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/internal/mailstack"
)

func TestConfigCheck(t *testing.T) {
	ok := Config{Address: "127.0.0.1:143", User: "security@example.test", TLS: TLSPlainLoopback}.WithDefaults()
	if err := ok.Check(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"plain to a remote host", func(c *Config) { c.Address = "imap.example.org:143" }, "loopback"},
		{"unknown tls mode", func(c *Config) { c.TLS = "none" }, "tls ="},
		{"no address", func(c *Config) { c.Address = "" }, "address"},
		{"no user", func(c *Config) { c.User = "" }, "user"},
		{"same folders", func(c *Config) { c.Processed = c.Mailbox }, "different"},
		{"backoff", func(c *Config) { c.BackoffMax = time.Millisecond }, "backoff"},
		{"empty own list", func(c *Config) { c.OwnLists = []string{"security.example.test", ""} }, "own_lists[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check() = %v, want an error about %q", err, tt.want)
			}
		})
	}
	d := DefaultConfig()
	if d.Mailbox != "INBOX" || d.Processed != "Processed" || d.Quarantine != "Quarantine" || d.TLS != TLSImplicit {
		t.Errorf("defaults %+v", d)
	}
}

// TestPollerTLSModes logs in over implicit TLS and STARTTLS to the real
// Dovecot and takes one message each time.
func TestPollerTLSModes(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	stack := mailstack.Start(t, mailstack.Options{Users: []string{"security"}, TLS: true})
	for i, mode := range []string{TLSImplicit, TLSStartTLS} {
		t.Run(mode, func(t *testing.T) {
			db := openDB(t)
			rec := newRecorder(db)
			addr := stack.IMAPTLSAddr
			if mode == TLSStartTLS {
				addr = stack.IMAPAddr
			}
			cfg := Config{Address: addr, User: stack.Addr("security"), TLS: mode, PasswordFile: passwordFile(t),
				BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
			if err := writeFile(cfg.PasswordFile, stack.Password); err != nil {
				t.Fatal(err)
			}
			p, err := NewPoller(cfg, db, plainRest{}, rec, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.TLSConfig = stack.TLSConfig("127.0.0.1")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { p.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			mid := []string{"tls-1@outside.example", "starttls-1@outside.example"}[i]
			stack.Send(t, "someone@outside.example", []string{stack.Addr("security")},
				[]byte("From: someone@outside.example\r\nTo: "+stack.Addr("security")+"\r\nSubject: hi\r\nMessage-ID: <"+mid+">\r\n\r\nhello\r\n"))
			// The message of the previous mode may come first (it was
			// perhaps not moved yet); this database has not seen it.
			for got := <-rec.ch; got != mid; got = <-rec.ch {
				if !strings.HasPrefix(got, "tls-") {
					t.Fatalf("processed %q", got)
				}
			}
		})
	}
}
