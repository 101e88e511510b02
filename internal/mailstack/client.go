package mailstack

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Addr returns the full address of user, which may be a local part
// ("security") or already an address ("security@example.test").
func (s *Stack) Addr(user string) string {
	if strings.Contains(user, "@") {
		return strings.ToLower(user)
	}
	return strings.ToLower(user) + "@" + s.Domain
}

// AddUser creates the mailbox user name@Domain (password s.Password) on the
// running stack and returns its address. It returns once Postfix accepts
// mail for it.
func (s *Stack) AddUser(t testing.TB, name string) string {
	t.Helper()
	name = strings.ToLower(strings.TrimSuffix(name, "@"+s.Domain))
	if !localPart.MatchString(name) {
		t.Fatalf("mailstack: bad user name %q (want a local part)", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.Addr(name)
	if s.users[name] {
		return addr
	}
	if err := s.writeUser(name); err != nil {
		t.Fatalf("mailstack: add user %s: %v", addr, err)
	}
	if err := backdate(filepath.Join(s.Dir, "postfix")); err != nil {
		t.Fatalf("mailstack: add user %s: %v", addr, err)
	}
	// Dovecot re-reads its passwd-file when it changes; Postfix needs a
	// reload (SIGHUP to the master) for the texthash recipient map.
	if err := syscall.Kill(s.postfix.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatalf("mailstack: reload postfix: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.probeRcpt(addr)
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailstack: postfix still refuses %s after reload: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probeRcpt checks that the inbound port accepts addr as a recipient.
func (s *Stack) probeRcpt(addr string) error {
	c, err := s.dialSMTP(s.SMTPAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(addr, nil); err != nil {
		return err
	}
	return c.Quit()
}

func (s *Stack) dialSMTP(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 30 * time.Second
	if err := c.Hello("client.mailstack.test"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TrySend delivers raw from the envelope sender from to the recipients to
// through the inbound SMTP port (no AUTH), as a remote MTA would. It returns
// the server's error (a *smtp.SMTPError when the server refused).
func (s *Stack) TrySend(from string, to []string, raw []byte) error {
	return s.send(s.SMTPAddr, nil, from, to, raw)
}

// Send is TrySend that fails the test on error.
func (s *Stack) Send(t testing.TB, from string, to []string, raw []byte) {
	t.Helper()
	if err := s.TrySend(from, to, raw); err != nil {
		t.Fatalf("mailstack: send to %v via %s: %v", to, s.SMTPAddr, err)
	}
}

// TrySubmit sends raw through the submission port, authenticated as user.
func (s *Stack) TrySubmit(user, from string, to []string, raw []byte) error {
	return s.send(s.SubmissionAddr, sasl.NewPlainClient("", s.Addr(user), s.Password), from, to, raw)
}

// Submit is TrySubmit that fails the test on error.
func (s *Stack) Submit(t testing.TB, user, from string, to []string, raw []byte) {
	t.Helper()
	if err := s.TrySubmit(user, from, to, raw); err != nil {
		t.Fatalf("mailstack: submit as %s to %v via %s: %v", s.Addr(user), to, s.SubmissionAddr, err)
	}
}

func (s *Stack) send(addr string, auth sasl.Client, from string, to []string, raw []byte) error {
	c, err := s.dialSMTP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

// dialIMAP logs in as user.
func (s *Stack) dialIMAP(user string, opts *imapclient.Options) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.IMAPAddr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Login(s.Addr(user), s.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s: %w", s.Addr(user), err)
	}
	return c, nil
}

// Mailboxes lists user's mailboxes.
func (s *Stack) Mailboxes(t testing.TB, user string) []string {
	t.Helper()
	c, err := s.dialIMAP(user, nil)
	if err != nil {
		t.Fatalf("mailstack: %v", err)
	}
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("mailstack: list mailboxes of %s: %v", s.Addr(user), err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Mailbox)
	}
	return names
}

// Messages returns the raw bytes of every message in user's mailbox, in
// mailbox order, without setting \Seen. Postfix delivers in parallel: the
// order may differ from the order of sending.
func (s *Stack) Messages(t testing.TB, user, mailbox string) [][]byte {
	t.Helper()
	c, err := s.dialIMAP(user, nil)
	if err != nil {
		t.Fatalf("mailstack: %v", err)
	}
	defer c.Close()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("mailstack: select %s of %s: %v", mailbox, s.Addr(user), err)
	}
	msgs, err := fetchAll(c, sel.NumMessages)
	if err != nil {
		t.Fatalf("mailstack: fetch %s of %s: %v", mailbox, s.Addr(user), err)
	}
	return msgs
}

// WaitMessages waits until user's mailbox holds at least n messages and
// returns them all (raw, in mailbox order). It fails the test after timeout.
// It waits on IMAP IDLE notifications, not on a fixed sleep; the mailbox
// may be created while it waits.
func (s *Stack) WaitMessages(t testing.TB, user, mailbox string, n int, timeout time.Duration) [][]byte {
	t.Helper()
	msgs, err := s.waitMessages(user, mailbox, n, timeout)
	if err != nil {
		t.Fatalf("mailstack: %s %s: %v\npostfix log:\n%s", s.Addr(user), mailbox, err, s.logTail("postfix", 20))
	}
	return msgs
}

var errTimeout = errors.New("timed out")

func (s *Stack) waitMessages(user, mailbox string, n int, timeout time.Duration) ([][]byte, error) {
	deadline := time.Now().Add(timeout)
	exists := make(chan uint32, 16)
	opts := &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case exists <- *d.NumMessages:
				default:
				}
			}
		},
	}}
	c, err := s.dialIMAP(user, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var sel *imap.SelectData
	for {
		// A mailbox that another component creates later does not exist
		// yet: poll for it until it does.
		sel, err = c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("select: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	count := sel.NumMessages
	for int(count) < n {
		idle, err := c.Idle()
		if err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		// A delivery between SELECT and IDLE is reported once IDLE
		// starts.
		timer := time.NewTimer(time.Until(deadline))
		select {
		case count = <-exists:
		case <-timer.C:
		}
		timer.Stop()
		if err := idle.Close(); err != nil {
			return nil, fmt.Errorf("idle done: %w", err)
		}
		if err := idle.Wait(); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
	drain:
		for {
			select {
			case c := <-exists:
				count = c
			default:
				break drain
			}
		}
		if int(count) < n && time.Now().After(deadline) {
			return nil, fmt.Errorf("%w after %s: %d of %d messages", errTimeout, timeout, count, n)
		}
	}
	return fetchAll(c, count)
}

func fetchAll(c *imapclient.Client, count uint32) ([][]byte, error) {
	if count == 0 {
		return nil, nil
	}
	var set imap.SeqSet
	set.AddRange(1, count)
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out, nil
}

// WritePasswordFile writes the stack's password to a new file (mode 0600)
// in a temporary directory of t and returns its path, for configurations
// that take a password_file.
func (s *Stack) WritePasswordFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(p, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatalf("mailstack: %v", err)
	}
	return p
}

// Logs returns the last n lines of the Postfix and Dovecot logs, for
// failure messages.
func (s *Stack) Logs(n int) string {
	return "postfix:\n" + s.logTail("postfix", n) + "\ndovecot:\n" + s.logTail("dovecot", n)
}

// DeliveredTo returns the envelope recipient Dovecot recorded in the
// Delivered-To header field of a delivered message: for mail captured in
// the sink, the foreign address it was sent to.
func DeliveredTo(raw []byte) string {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Delivered-To") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
