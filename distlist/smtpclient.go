package distlist

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/secgate/secgate/internal/certpool"
	"github.com/secgate/secgate/internal/clock"
)

// deadlineConn caps every deadline go-smtp sets (including "no deadline")
// at limit, so that no phase of a transaction can hang.
type deadlineConn struct {
	net.Conn
	mu    sync.Mutex
	limit time.Time
}

func (c *deadlineConn) setLimit(t time.Time) {
	c.mu.Lock()
	c.limit = t
	c.mu.Unlock()
	c.Conn.SetDeadline(t)
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		return c.limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// tlsConfig builds the client TLS configuration from c.
func (c SMTPConfig) tlsConfig() (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(c.Addr)
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pool, err := certpool.Load(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("distlist: smtp: ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// smtpConn is an SMTP submission connection, and the only holder of a
// go-smtp client in secgate. Its one method that starts or writes a
// message, send, runs the guard over the exact bytes it then writes;
// TestNoOtherSMTPSender proves, by the types of the values, that no other
// code reaches the client.
type smtpConn struct {
	c  *smtp.Client
	dc *deadlineConn
}

// dialSMTP connects, says EHLO, starts TLS as configured and authenticates.
func dialSMTP(ctx context.Context, cfg SMTPConfig) (*smtpConn, error) {
	if cfg.EHLO == "" {
		cfg.EHLO = "localhost"
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	dc := &deadlineConn{Conn: newFlushOnRead(raw)}
	dc.setLimit(time.Now().Add(cfg.DialTimeout + cfg.CommandTimeout))
	fail := func(what string, err error) (*smtpConn, error) {
		raw.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var c *smtp.Client
	switch cfg.TLS {
	case TLSImplicit:
		tc, err := cfg.tlsConfig()
		if err != nil {
			return fail("tls", err)
		}
		tconn := tls.Client(dc, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return fail("tls handshake", err)
		}
		c = smtp.NewClient(tconn)
		if err := c.Hello(cfg.EHLO); err != nil {
			return fail("ehlo", err)
		}
	case TLSStartTLS:
		tc, err := cfg.tlsConfig()
		if err != nil {
			return fail("tls", err)
		}
		// go-smtp greets as "localhost" before STARTTLS; the configured
		// name is used from the EHLO after the handshake on.
		if c, err = smtp.NewClientStartTLS(dc, tc); err != nil {
			return fail("starttls", err)
		}
		if err := c.Hello(cfg.EHLO); err != nil {
			c.Close()
			return fail("ehlo", err)
		}
	default:
		c = smtp.NewClient(dc)
		if err := c.Hello(cfg.EHLO); err != nil {
			return fail("ehlo", err)
		}
	}
	c.CommandTimeout = cfg.CommandTimeout
	c.SubmissionTimeout = cfg.SubmissionTimeout
	if cfg.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", cfg.User, cfg.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("auth: %w", err)
		}
	} else if err := c.Noop(); err != nil { // complete EHLO now, so failures show here
		c.Close()
		return nil, fmt.Errorf("ehlo: %w", err)
	}
	dc.setLimit(time.Time{})
	return &smtpConn{c: c, dc: dc}, nil
}

// send makes one transaction for row j: MAIL and RCPT, then, the notice's
// disclosure time checked again on clk, the guard over exactly the bytes
// that are written, then DATA. It is the only code in secgate that starts
// or writes a message.
func (sc *smtpConn) send(ctx context.Context, j *job, keyID uint64, opts *smtp.MailOptions, clk clock.Clock) (string, error) {
	if err := sc.c.Mail(j.envFrom, opts); err != nil {
		return "", &phaseError{"mail", err}
	}
	if err := sc.c.Rcpt(j.recipient, nil); err != nil {
		return "", &phaseError{"rcpt", err}
	}
	if err := j.missed(clk.Now()); err != nil {
		return "", err
	}
	msg := j.message(ctx)
	if err := guard(msg, j, keyID); err != nil {
		return "", err
	}
	w, err := sc.c.Data()
	if err != nil {
		return "", &phaseError{"data", err}
	}
	if _, err := msg.WriteTo(w); err != nil {
		// Not w.Close: that would end the data and submit what was
		// written so far.
		sc.c.Close()
		return "", &phaseError{"data", errAborted(err)}
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", &phaseError{"end of data", err}
	}
	return resp.StatusText, nil
}

// ext reports whether the server offers extension name.
func (sc *smtpConn) ext(name string) bool {
	ok, _ := sc.c.Extension(name)
	return ok
}

// setLimit caps every deadline of the connection at t (zero: none).
func (sc *smtpConn) setLimit(t time.Time) { sc.dc.setLimit(t) }

// reset aborts the transaction with RSET, within timeout.
func (sc *smtpConn) reset(timeout time.Duration) error {
	sc.dc.setLimit(time.Now().Add(timeout))
	if err := sc.c.Reset(); err != nil {
		return err
	}
	sc.dc.setLimit(time.Time{})
	return nil
}

// quit ends the session with QUIT within timeout, or closes the connection
// when that fails.
func (sc *smtpConn) quit(timeout time.Duration) {
	sc.dc.setLimit(time.Now().Add(timeout))
	if err := sc.c.Quit(); err != nil {
		sc.c.Close()
	}
}

// close closes the connection at once.
func (sc *smtpConn) close() { sc.c.Close() }

// sender is one delivery worker with its reused SMTP connection.
type sender struct {
	o        *Outbox
	conn     *smtpConn
	used     int
	lastUsed time.Time
}

// maxIdle is how long a connection may sit unused before it is closed
// rather than reused: servers drop idle clients (Postfix after 300s).
const maxIdle = 30 * time.Second

func (s *sender) close() {
	if s.conn != nil {
		s.conn.quit(s.o.cfg.SMTP.CommandTimeout)
	}
	s.conn, s.used = nil, 0
}

func (s *sender) drop() {
	if s.conn != nil {
		s.conn.close()
	}
	s.conn, s.used = nil, 0
}

// phaseError says at which step of the transaction an error happened.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// deliver makes one attempt at j.
func (s *sender) deliver(ctx context.Context, j *job) outcome {
	o := s.o
	now := o.clock.Now()
	if err := j.missed(now); err != nil {
		return outcome{state: StateFailed, reply: err.Error(), event: EventMissed}
	}
	if why := j.withheld(); why != "" {
		return outcome{state: StateFailed, reply: why}
	}
	var keyID uint64
	// A row that must be encrypted and names no key goes on to the guard,
	// which refuses it.
	if j.mustEncrypt() && j.fingerprint != "" {
		k, err := o.recipientKey(j.fingerprint, j.armored)
		if err != nil {
			return outcome{state: StateFailed, reply: "recipient key not found: " + err.Error(), event: EventKeyInvalid}
		}
		if err := checkUsable(k, now, j.validThrough); err != nil {
			return outcome{state: StateFailed, reply: "not sent: " + keyReason(k, err, j.validThrough), event: EventKeyInvalid}
		}
		if keyID, err = k.EncryptionKeyID(now); err != nil {
			return outcome{state: StateFailed, reply: "not sent: " + keyReason(k, err, j.validThrough), event: EventKeyInvalid}
		}
	}
	if len(j.raw) == 0 {
		// A big message is stored in pieces and read only now, so that
		// the rows claimed ahead do not all sit in memory, and only
		// while no other worker holds one.
		select {
		case o.big <- struct{}{}:
			defer func() { <-o.big }()
		case <-ctx.Done():
			return outcome{state: StateDeferred, reply: "not sent: shutting down"}
		}
		if err := j.openBlob(ctx, o.db.Reader()); err != nil {
			return outcome{state: StateDeferred, reply: "message not read: " + err.Error()}
		}
		defer func() { j.blob, j.blobHead = nil, nil }()
	}
	if s.conn != nil && time.Since(s.lastUsed) > maxIdle {
		s.close()
	}
	for try := 0; ; try++ {
		reused := s.used > 0
		if s.conn == nil {
			conn, err := dialSMTP(ctx, o.cfg.SMTP)
			if err != nil {
				return outcome{state: StateDeferred, reply: err.Error()}
			}
			s.conn = conn
		}
		resp, err := s.transmit(ctx, j, keyID)
		s.lastUsed = time.Now()
		if err == nil {
			s.used++
			return outcome{state: StateSent, code: 250, reply: "250 " + resp}
		}
		out := s.classify(err)
		var pe *phaseError
		var se *smtp.SMTPError
		gone := !errors.As(err, &se) || se.Code == 421
		if reused && try == 0 && s.conn == nil && errors.As(err, &pe) && pe.phase == "mail" && gone {
			continue // the reused connection was gone; one fresh try
		}
		return out
	}
}

// classify turns a transmit error into an outcome and fixes the connection
// up: RSET after a failed transaction, a new connection after a broken one.
func (s *sender) classify(err error) outcome {
	var pe *permanentError
	if errors.As(err, &pe) {
		return outcome{state: StateFailed, reply: pe.reason}
	}
	var me *missedError
	if errors.As(err, &me) {
		s.reset()
		return outcome{state: StateFailed, reply: me.reason, event: EventMissed}
	}
	var ge *guardError
	if errors.As(err, &ge) {
		s.o.log.Error("BUG: the guard refused an outbound message; nothing was sent", "reason", ge.reason)
		s.reset()
		return outcome{state: StateFailed, reply: "refused by the guard (bug): " + ge.reason, event: EventGuard}
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		reply := fmt.Sprintf("%d", se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			reply += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		reply += " " + se.Message
		var pe *phaseError
		if errors.As(err, &pe) {
			reply += " (at " + pe.phase + ")"
		}
		if se.Code == 421 {
			s.drop()
		} else {
			s.reset()
		}
		if se.Code >= 500 && se.Code < 600 {
			return outcome{state: StateFailed, code: se.Code, reply: reply}
		}
		return outcome{state: StateDeferred, code: se.Code, reply: reply}
	}
	s.drop()
	return outcome{state: StateDeferred, reply: err.Error()}
}

// reset aborts the transaction with RSET, or drops a connection that fails.
func (s *sender) reset() {
	if s.conn == nil {
		return
	}
	if err := s.conn.reset(s.o.cfg.SMTP.CommandTimeout); err != nil {
		s.drop()
	}
}
