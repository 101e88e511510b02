// Package smtpsink is an in-process SMTP server for tests and the demo: it
// keeps every message it accepts and fails on demand, chosen by the
// recipient's local part (like mox localserve).
//
// A local part is split at '+', '-' and '.' into words; these words
// inject faults (everything else is accepted):
//
//	temperror        451 4.3.0 at RCPT
//	permerror        550 5.1.1 at RCPT
//	4xx or 5xx       that code at RCPT, e.g. "421", "452", "550"
//	data4xx, data5xx that code after the message data, e.g. "data552"
//	dropdata         the connection is closed in the middle of DATA
//	timeout          the RCPT reply is delayed by Options.Delay
//	once             the fault happens on the first attempt only
//
// The sink also keeps the MAIL and RCPT commands as the client wrote them
// (Commands), since the server hands the session a local part unquoted.
package smtpsink

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Sink.
type Options struct {
	// TLS, if set, is offered with STARTTLS, or spoken from the first byte
	// when Implicit is set.
	TLS      *tls.Config
	Implicit bool
	// User and Password, if set, require AUTH PLAIN.
	User, Password string
	// Delay is how long "timeout" recipients wait (default 10s).
	Delay time.Duration
	// SMTPUTF8 offers the SMTPUTF8 extension (RFC 6531).
	SMTPUTF8 bool
	// Addr is the address to listen on; default a free port on 127.0.0.1.
	// A test sets it to start a server late on a port another server was
	// told to use (a next hop that was down).
	Addr string
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string // as the server decodes them: a quoted local part unquoted
	Data []byte
	UTF8 bool // MAIL had the SMTPUTF8 parameter
}

// Sink is a running in-process SMTP server on 127.0.0.1.
type Sink struct {
	Addr string

	opts Options
	srv  *smtp.Server
	ln   net.Listener

	mu       sync.Mutex
	msgs     []Message
	commands []string
	attempts map[string]int
	conns    int
	rsets    int
	open     []net.Conn
}

// Start listens on a free loopback port (or Options.Addr) and serves until
// Close.
func Start(opts Options) (*Sink, error) {
	if opts.Delay == 0 {
		opts.Delay = 10 * time.Second
	}
	s := &Sink{opts: opts, attempts: map[string]int{}}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "sink.localhost"
	srv.MaxMessageBytes = 32 << 20
	srv.MaxRecipients = 100
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.AllowInsecureAuth = opts.TLS == nil
	srv.EnableSMTPUTF8 = opts.SMTPUTF8
	srv.ErrorLog = discard{}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	if opts.TLS != nil && opts.Implicit {
		ln, err = tls.Listen("tcp", addr, opts.TLS)
	} else {
		srv.TLSConfig = opts.TLS
		ln, err = net.Listen("tcp", addr)
		if err == nil {
			ln = recordingListener{ln, s}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("smtpsink: listen: %w", err)
	}
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	go srv.Serve(ln)
	return s, nil
}

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

// Messages returns a copy of the accepted messages, in order.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Len returns how many messages were accepted.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Reset forgets the accepted messages, commands and attempt counts.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.commands, s.attempts, s.conns, s.rsets = nil, nil, map[string]int{}, 0, 0
}

// Commands returns the MAIL and RCPT command lines received, without CRLF,
// in order, as the client wrote them. Only connections without TLS are
// seen.
func (s *Sink) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// recordingListener hands out connections that keep the envelope commands
// read from them.
type recordingListener struct {
	net.Listener
	s *Sink
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, s: l.s}, nil
}

// maxCommandLine bounds the line a recordingConn gathers (SMTP allows 512
// octets; SMTPUTF8 addresses are longer in bytes).
const maxCommandLine = 4096

// recordingConn scans what the server reads for command lines, skipping
// the message data (from a DATA line to the "." line). Only the server's
// goroutine for the connection reads from it.
type recordingConn struct {
	net.Conn
	s    *Sink
	line []byte
	data bool
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, b := range p[:n] {
		if b != '\n' {
			if len(c.line) < maxCommandLine {
				c.line = append(c.line, b)
			}
			continue
		}
		c.command(string(bytes.TrimSuffix(c.line, []byte("\r"))))
		c.line = c.line[:0]
	}
	return n, err
}

func (c *recordingConn) command(line string) {
	if c.data {
		c.data = line != "."
		return
	}
	up := strings.ToUpper(line)
	switch {
	case up == "DATA":
		c.data = true
	case strings.HasPrefix(up, "MAIL FROM:"), strings.HasPrefix(up, "RCPT TO:"):
		c.s.mu.Lock()
		c.s.commands = append(c.s.commands, line)
		c.s.mu.Unlock()
	}
}

// DropConnections closes every connection from the server side, as a
// server does with idle clients.
func (s *Sink) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

// Connections returns how many connections were accepted.
func (s *Sink) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Resets returns how many RSET commands (or aborted transactions) were seen.
func (s *Sink) Resets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rsets
}

// Attempts returns how many times RCPT was given for addr.
func (s *Sink) Attempts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[strings.ToLower(addr)]
}

type backend struct{ s *Sink }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.conns++
	b.s.open = append(b.s.open, c.Conn())
	b.s.mu.Unlock()
	sess := &session{s: b.s, conn: c}
	if b.s.opts.User != "" {
		return &authSession{sess}, nil
	}
	return sess, nil
}

type session struct {
	s      *Sink
	conn   *smtp.Conn
	authed bool
	from   string
	utf8   bool
	to     []string
	data   []fault // faults at end of data, per recipient
}

type fault struct {
	code int
	drop bool
}

type authSession struct{ *session }

func (a *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (a *authSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != a.s.opts.User || pass != a.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		a.authed = true
		return nil
	}), nil
}

func (a *authSession) Mail(from string, opts *smtp.MailOptions) error {
	if !a.authed {
		return smtp.ErrAuthRequired
	}
	return a.session.Mail(from, opts)
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.from, s.utf8 = from, opts != nil && opts.UTF8
	return nil
}

func smtpErr(code int) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "injected failure"}
	switch code {
	case 421:
		e.Message = "service not available, closing channel"
	case 450, 451:
		e.EnhancedCode, e.Message = smtp.EnhancedCode{4, 3, 0}, "try again later"
	case 452:
		e.EnhancedCode, e.Message = smtp.EnhancedCode{4, 3, 1}, "insufficient system storage"
	case 550:
		e.EnhancedCode, e.Message = smtp.EnhancedCode{5, 1, 1}, "mailbox unavailable"
	case 552:
		e.EnhancedCode, e.Message = smtp.EnhancedCode{5, 3, 4}, "message too big"
	case 554:
		e.EnhancedCode, e.Message = smtp.EnhancedCode{5, 7, 1}, "transaction failed"
	}
	return e
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	addr := strings.ToLower(to)
	s.s.mu.Lock()
	s.s.attempts[addr]++
	n := s.s.attempts[addr]
	s.s.mu.Unlock()
	local, _, _ := strings.Cut(addr, "@")
	words := strings.FieldsFunc(local, func(r rune) bool { return r == '+' || r == '-' || r == '.' })
	once := false
	for _, w := range words {
		once = once || w == "once"
	}
	active := !once || n == 1
	var f fault
	for _, w := range words {
		if !active {
			break
		}
		switch {
		case w == "timeout":
			time.Sleep(s.s.opts.Delay)
		case w == "temperror":
			return smtpErr(451)
		case w == "permerror":
			return smtpErr(550)
		case w == "dropdata":
			f.drop = true
		case len(w) == 3 && (w[0] == '4' || w[0] == '5'):
			if c, err := strconv.Atoi(w); err == nil {
				return smtpErr(c)
			}
		case len(w) == 7 && strings.HasPrefix(w, "data") && (w[4] == '4' || w[4] == '5'):
			if c, err := strconv.Atoi(w[4:]); err == nil {
				f.code = c
			}
		}
	}
	s.to = append(s.to, to)
	s.data = append(s.data, f)
	return nil
}

func (s *session) Data(r io.Reader) error {
	for _, f := range s.data {
		if f.drop {
			io.ReadFull(r, make([]byte, 64))
			s.conn.Conn().Close()
			return errors.New("dropped")
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, f := range s.data {
		if f.code != 0 {
			s.from, s.to, s.data = "", nil, nil
			return smtpErr(f.code)
		}
	}
	s.s.mu.Lock()
	s.s.msgs = append(s.s.msgs, Message{From: s.from, To: append([]string(nil), s.to...), Data: b, UTF8: s.utf8})
	s.s.mu.Unlock()
	s.from, s.to, s.data = "", nil, nil
	return nil
}

func (s *session) Reset() {
	if s.from != "" || len(s.to) > 0 {
		s.s.mu.Lock()
		s.s.rsets++
		s.s.mu.Unlock()
	}
	s.from, s.to, s.data = "", nil, nil
}

func (s *session) Logout() error { return nil }
