package mailstack

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func message(from, to, subject string) []byte {
	return []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d@mailstack.test>\r\n\r\nbody of %s\r\n",
		from, to, subject, time.Now().UnixNano(), subject))
}

// header returns the first value of the named header field of raw.
func header(raw []byte, name string) string {
	for _, line := range strings.Split(string(raw), "\r\n") {
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return v
		}
	}
	return ""
}

func TestDeliverAndRead(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"security", "distro1"}})
	t.Logf("stack ready in %s", s.Started)
	from := "reporter@elsewhere.example"
	s.Send(t, from, []string{"security@" + s.Domain}, message(from, "security@"+s.Domain, "first"))
	s.Send(t, from, []string{"security+tag@" + s.Domain, "distro1@" + s.Domain}, message(from, "security@"+s.Domain, "second"))

	got := s.WaitMessages(t, "security", "INBOX", 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("security INBOX holds %d messages, want 2", len(got))
	}
	// Postfix delivers in parallel: the mailbox order is not the order of
	// sending.
	var subjects []string
	for _, m := range got {
		subjects = append(subjects, header(m, "Subject"))
	}
	slices.Sort(subjects)
	if want := []string{"first", "second"}; !slices.Equal(subjects, want) {
		t.Errorf("subjects = %q, want %q", subjects, want)
	}
	if d := s.WaitMessages(t, "distro1@"+s.Domain, "INBOX", 1, 10*time.Second); !bytes.Contains(d[0], []byte("Subject: second")) {
		t.Errorf("distro1 got %s", d[0])
	}
	if n := len(s.Messages(t, "sink", "INBOX")); n != 0 {
		t.Errorf("sink holds %d messages, want 0", n)
	}
	boxes := s.Mailboxes(t, "security")
	for _, want := range []string{"INBOX", "Sent", "Trash", "Junk", "Drafts"} {
		if !slices.Contains(boxes, want) {
			t.Errorf("mailboxes %v lack %s", boxes, want)
		}
	}
}

func TestInboundRefusesUnknownAndForeign(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"security"}})
	raw := message("a@elsewhere.example", "x", "refused")
	tests := []struct {
		rcpt string
		code int
	}{
		{"nobody@" + s.Domain, 550},
		{"someone@elsewhere.example", 554}, // relay access denied
	}
	for _, tt := range tests {
		err := s.TrySend("a@elsewhere.example", []string{tt.rcpt}, raw)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != tt.code {
			t.Errorf("send to %s: got %v, want SMTP %d", tt.rcpt, err, tt.code)
		}
	}
}

func TestSubmissionRequiresAuth(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"gateway"}})
	raw := message("gateway@"+s.Domain, "reporter@elsewhere.example", "no auth")

	// Without AUTH.
	err := s.send(s.SubmissionAddr, nil, "gateway@"+s.Domain, []string{"reporter@elsewhere.example"}, raw)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code/100 != 5 {
		t.Errorf("submission without AUTH: got %v, want a 5xx refusal", err)
	}
	// Wrong password.
	err = s.send(s.SubmissionAddr, sasl.NewPlainClient("", "gateway@"+s.Domain, "wrong"), "gateway@"+s.Domain, []string{"reporter@elsewhere.example"}, raw)
	if !errors.As(err, &se) || se.Code != 535 {
		t.Errorf("submission with a wrong password: got %v, want 535", err)
	}
	// With AUTH: accepted, and captured in the sink with the original
	// recipient in Delivered-To.
	s.Submit(t, "gateway", "gateway@"+s.Domain, []string{"reporter@elsewhere.example", "other@far.example"}, message("gateway@"+s.Domain, "reporter@elsewhere.example", "with auth"))
	got := s.WaitMessages(t, s.SinkUser, "INBOX", 2, 10*time.Second)
	var rcpts []string
	for _, m := range got {
		rcpts = append(rcpts, DeliveredTo(m))
	}
	slices.Sort(rcpts)
	if want := []string{"other@far.example", "reporter@elsewhere.example"}; !slices.Equal(rcpts, want) {
		t.Errorf("sink Delivered-To = %v, want %v", rcpts, want)
	}
}

func TestRejectForeign(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"gateway"}, RejectForeign: true})
	err := s.TrySubmit("gateway", "gateway@"+s.Domain, []string{"reporter@elsewhere.example"}, message("gateway@"+s.Domain, "r", "x"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("foreign rcpt with RejectForeign: got %v, want 550", err)
	}
	// Local recipients still work.
	s.Submit(t, "gateway", "gateway@"+s.Domain, []string{"gateway@" + s.Domain}, message("gateway@"+s.Domain, "gateway@"+s.Domain, "local"))
	s.WaitMessages(t, "gateway", "INBOX", 1, 10*time.Second)
}

func TestAddUser(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	if err := s.TrySend("a@elsewhere.example", []string{"late@" + s.Domain}, message("a@elsewhere.example", "late", "before")); err == nil {
		t.Fatal("mail to a user not created yet was accepted")
	}
	addr := s.AddUser(t, "late")
	if addr != "late@"+s.Domain {
		t.Errorf("AddUser = %q", addr)
	}
	// Every new connection must see the user, not just the first one.
	for i := 0; i < 5; i++ {
		s.Send(t, "a@elsewhere.example", []string{addr}, message("a@elsewhere.example", addr, fmt.Sprint("after ", i)))
	}
	if got := s.WaitMessages(t, "late", "INBOX", 5, 10*time.Second); len(got) != 5 {
		t.Errorf("late INBOX holds %d messages, want 5", len(got))
	}
}

func TestWaitMessagesTimesOut(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"security"}})
	_, err := s.waitMessages("security", "INBOX", 1, 300*time.Millisecond)
	if !errors.Is(err, errTimeout) {
		t.Errorf("waitMessages on an empty mailbox: got %v, want timeout", err)
	}
	if _, err := s.dialIMAP("security", nil); err != nil {
		t.Errorf("login: %v", err)
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("sink2@"+s.Domain, s.Password).Wait(); err == nil {
		t.Error("login of a user that does not exist succeeded (catch-all must not open logins)")
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"gateway", "security"}, TLS: true})
	// STARTTLS on submission, implicit TLS on submissions, IMAPS.
	c, err := smtp.DialStartTLS(s.SubmissionAddr, s.TLSConfig("127.0.0.1"))
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "gateway@"+s.Domain, s.Password)); err != nil {
		t.Fatalf("auth after STARTTLS: %v", err)
	}
	if err := c.SendMail("gateway@"+s.Domain, []string{"security@" + s.Domain}, bytes.NewReader(message("gateway@"+s.Domain, "security", "starttls"))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = smtp.DialTLS(s.SubmissionTLSAddr, s.TLSConfig("localhost"))
	if err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "gateway@"+s.Domain, s.Password)); err != nil {
		t.Fatalf("auth over TLS: %v", err)
	}
	if err := c.SendMail("gateway@"+s.Domain, []string{"security@" + s.Domain}, bytes.NewReader(message("gateway@"+s.Domain, "security", "tls"))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.WaitMessages(t, "security", "INBOX", 2, 10*time.Second)
	ic, err := imapclient.DialTLS(s.IMAPTLSAddr, &imapclient.Options{TLSConfig: s.TLSConfig("mail." + s.Domain)})
	if err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	defer ic.Close()
	if err := ic.Login("security@"+s.Domain, s.Password).Wait(); err != nil {
		t.Fatalf("IMAPS login: %v", err)
	}
	if _, err := tls.Dial("tcp", s.IMAPTLSAddr, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Error("IMAPS certificate trusted without RootCAs")
	}
}

func TestWritePasswordFile(t *testing.T) {
	s := &Stack{Password: "pw"}
	p := s.WritePasswordFile(t)
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "pw\n" {
		t.Errorf("password file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// BenchmarkStart measures starting a stack until both daemons answer, and
// stopping it.
func BenchmarkStart(b *testing.B) {
	bin, err := findBinaries("/")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		s, err := start(bin, Options{Domain: "example.test", Password: "secret", Users: []string{"security"}})
		if err != nil {
			b.Fatal(err)
		}
		s.stop(b)
	}
}

func TestMissingBinaries(t *testing.T) {
	_, err := findBinaries(t.TempDir())
	if err == nil || err.Error() != "not installed: dovecot, dovecot-imapd, dovecot-lmtpd, postfix" {
		t.Errorf("on an empty root: %v", err)
	}
	if _, err := findBinaries("/"); err != nil {
		t.Errorf("on this machine: %v (%s)", err, installHint)
	}
	if !strings.Contains(installHint, "run `make test`") {
		t.Errorf("install hint %q", installHint)
	}
}

// TestAliases: mail to an alias reaches the mailbox it names, with or
// without a +detail; what Dovecot records of the envelope is logged, as
// intake's routing reads it.
func TestAliases(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []string{"security"}, Aliases: map[string]string{
		"security-a": "security+a", "security-b": "security@" + "example.test",
	}})
	from := "reporter@elsewhere.example"
	for _, to := range []string{"security-a", "security-b", "security+c"} {
		s.Send(t, from, []string{s.Addr(to)}, message(from, s.Addr(to), to))
	}
	got := s.WaitMessages(t, "security", "INBOX", 3, 10*time.Second)
	want := map[string]string{
		"security-a": "security+a@example.test", // the alias's target, detail kept
		"security-b": "security@example.test",   // the alias's target: the alias itself is not recorded
		"security+c": "security+c@example.test", // the detail kept
	}
	for _, m := range got {
		subj := header(m, "Subject")
		hdr, _, _ := bytes.Cut(m, []byte("\r\n\r\n"))
		t.Logf("%s:\n%s", subj, hdr)
		if d := DeliveredTo(m); d != want[subj] {
			t.Errorf("%s: Delivered-To %q, want %q", subj, d, want[subj])
		}
		if x := header(m, "X-Original-To"); x != "" {
			t.Errorf("%s: X-Original-To %q: Postfix's lmtp client adds none", subj, x)
		}
	}
	if err := s.TrySend(from, []string{s.Addr("security-c")}, message(from, s.Addr("security-c"), "x")); err == nil {
		t.Error("an address that is neither a user nor an alias was accepted")
	}
}

// TestStartFailureCleansUp: when one daemon fails to start, start stops the
// one already running, removes its directory and returns the reason. It
// once dereferenced a nil stack there and panicked instead, which hid the
// reason (a port taken between picking and binding it).
func TestStartFailureCleansUp(t *testing.T) {
	bin, err := findBinaries("/")
	if err != nil {
		t.Fatalf("%v (%s)", err, installHint)
	}
	bin.master = "/bin/false" // Postfix exits at once; Dovecot is already up
	s, err := start(bin, Options{Domain: "example.test", Password: "secret"})
	if err == nil {
		s.kill()
		t.Fatal("start with a master that exits succeeded")
	}
	if !strings.Contains(err.Error(), "postfix exited during start") {
		t.Errorf("error %q does not say postfix exited", err)
	}
	dir, _, _ := strings.Cut(err.Error(), ":")
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("directory %s left behind (%v)", dir, statErr)
	}
}
