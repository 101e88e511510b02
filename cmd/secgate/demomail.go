package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/imapmem"
)

// demoMail is the demo's mail world: an in-process IMAP server holding every
// participant's mailbox and an in-process SMTP server that delivers into
// those mailboxes. Every address gets an account on first delivery, with the
// password demoPassword.
type demoMail struct {
	clock clock.Clock

	mem     *imapmemserver.Server
	imapSrv *imapserver.Server
	smtpSrv *smtp.Server

	IMAPAddr string
	SMTPAddr string

	mu         sync.Mutex
	users      map[string]*imapmemserver.User
	deliveries []delivery
	notify     chan struct{}
}

const demoPassword = "demo"

// delivery is one message as one recipient's mailbox received it.
type delivery struct {
	At   time.Time // on the demo's clock
	From string    // envelope sender
	To   string
	Raw  []byte
}

func startDemoMail(ck clock.Clock) (*demoMail, error) {
	d := &demoMail{
		clock:  ck,
		mem:    imapmemserver.New(),
		users:  make(map[string]*imapmemserver.User),
		notify: make(chan struct{}, 1),
	}
	d.imapSrv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			s, err := imapmem.NewSession(d.mem)
			return s, nil, err
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback only, no TLS in the demo
		Logger:       log.New(io.Discard, "", 0),
	})
	iln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen imap: %w", err)
	}
	go d.imapSrv.Serve(iln)
	d.IMAPAddr = iln.Addr().String()

	d.smtpSrv = smtp.NewServer(&demoBackend{d: d})
	d.smtpSrv.Domain = "mail.demo.test"
	d.smtpSrv.AllowInsecureAuth = true
	d.smtpSrv.MaxMessageBytes = 32 << 20
	d.smtpSrv.MaxRecipients = 100
	d.smtpSrv.ReadTimeout = time.Minute
	d.smtpSrv.WriteTimeout = time.Minute
	d.smtpSrv.ErrorLog = log.New(io.Discard, "", 0)
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.imapSrv.Close()
		return nil, fmt.Errorf("demo: listen smtp: %w", err)
	}
	go d.smtpSrv.Serve(sln)
	d.SMTPAddr = sln.Addr().String()
	return d, nil
}

// Close stops both servers.
func (d *demoMail) Close() error {
	return errors.Join(d.smtpSrv.Close(), d.imapSrv.Close())
}

// user returns the account for addr, creating it with the usual folders.
func (d *demoMail) user(addr string) *imapmemserver.User {
	addr = strings.ToLower(addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[addr]
	if !ok {
		u = imapmemserver.NewUser(addr, demoPassword)
		for _, mb := range []string{"INBOX", "Processed", "Quarantine"} {
			u.Create(mb, nil)
		}
		d.mem.AddUser(u)
		d.users[addr] = u
	}
	return u
}

// deliver appends raw to addr's INBOX and records it.
func (d *demoMail) deliver(from, to string, raw []byte) error {
	u := d.user(to)
	if _, err := u.Append("INBOX", literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{}); err != nil {
		return fmt.Errorf("demo: deliver to %s: %w", to, err)
	}
	d.mu.Lock()
	d.deliveries = append(d.deliveries, delivery{At: d.clock.Now(), From: from, To: strings.ToLower(to), Raw: raw})
	d.mu.Unlock()
	select {
	case d.notify <- struct{}{}:
	default:
	}
	return nil
}

// Deliveries returns a copy of everything delivered so far.
func (d *demoMail) Deliveries() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.deliveries...)
}

// waitDeliveries waits until at least n messages have been delivered.
func (d *demoMail) waitDeliveries(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		got := len(d.deliveries)
		d.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-d.notify:
		case <-ctx.Done():
			return fmt.Errorf("demo: waiting for %d deliveries, have %d: %w", n, got, ctx.Err())
		}
	}
}

type literal struct {
	*bytes.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

type demoBackend struct{ d *demoMail }

func (b *demoBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &demoSession{d: b.d}, nil
}

type demoSession struct {
	d    *demoMail
	from string
	to   []string
}

func (s *demoSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *demoSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if pass != demoPassword {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (s *demoSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *demoSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *demoSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary local problem"}
	}
	for _, to := range s.to {
		if err := s.d.deliver(s.from, to, raw); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary local problem"}
		}
	}
	return nil
}

func (s *demoSession) Reset()        { s.from, s.to = "", nil }
func (s *demoSession) Logout() error { return nil }
