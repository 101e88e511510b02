package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read-only views of the gateway's database

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
)

// buildSecgate builds the secgate binary once into dir with the go tool of
// the running toolchain and returns its path.
func buildSecgate(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "secgate")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/secgate: %v\n%s", err, out)
	}
	return bin
}

// serveProc is one `secgate serve` subprocess.
type serveProc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // exit status, valid once done is closed
}

// startServe starts `bin serve -config cfg` with its output in logPath.
func startServe(bin, cfg, logPath string) (*serveProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, "serve", "-config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "SECGATE_TRACE=1")
	// The gateway dies with the test process, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serveProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *serveProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (p *serveProc) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("secgate serve ignored SIGTERM for %s; killed", grace)
	}
}

// serving reports whether the process logged that it serves.
func (p *serveProc) serving() bool {
	b, _ := os.ReadFile(p.log)
	return bytes.Contains(b, []byte("secgate serving"))
}

// waitServing waits until the process watches the mailbox: it has set up
// its signal handling, opened the database and logged in to IMAP.
func (p *serveProc) waitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.log)
		if bytes.Contains(b, []byte("intake: watching mailbox")) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("secgate serve exited during start: %v\n%s", p.err, p.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("secgate serve does not watch the mailbox after %s\n%s", timeout, p.tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serveProc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// crashEnv is the world of the crash suite: the mail stack, the keys and the
// configuration directory.
type crashEnv struct {
	stack    *mailstack.Stack
	dir      string // configuration directory
	config   string // configuration file
	database string
	team     *crypto.Key
	members  map[string]*crypto.Key // local part -> private key
	dists    []string               // distributor addresses
	reporter *gpgtest.GPG
	repFpr   string
	repAddr  string
}

const crashPassphrase = "crash-suite passphrase, not secret"

// newCrashEnv writes keys, password files and the configuration for a
// gateway serving security@ on stack, with the given team members (leads)
// and distributors on the embargo list.
func newCrashEnv(t testing.TB, stack *mailstack.Stack, pushAddr string, members, dists []string) *crashEnv {
	t.Helper()
	e := &crashEnv{stack: stack, dir: t.TempDir(), members: map[string]*crypto.Key{}}
	e.config = filepath.Join(e.dir, "secgate.toml")
	e.database = filepath.Join(e.dir, "data", "secgate.db")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		must(os.WriteFile(filepath.Join(e.dir, name), []byte(text), mode))
	}
	must(os.MkdirAll(filepath.Join(e.dir, "data"), 0o700))
	must(os.MkdirAll(filepath.Join(e.dir, "keys"), 0o700))
	created := time.Now().Add(-time.Hour)
	gen := func(name, addr string) *crypto.Key {
		t.Helper()
		k, err := crypto.GenerateKey(name, addr, crypto.GenerateOptions{Algorithm: "x25519", Created: created})
		must(err)
		return k
	}
	pub := func(k *crypto.Key) string {
		t.Helper()
		a, err := k.ArmorPublic()
		must(err)
		return a
	}
	var err error
	e.team = gen("Security Team", stack.Addr("security"))
	priv, err := e.team.ArmorPrivate([]byte(crashPassphrase))
	must(err)
	write("data/team-key.asc", priv, 0o600)
	write("team.pass", crashPassphrase+"\n", 0o600)
	write("imap.pass", stack.Password+"\n", 0o600)
	write("smtp.pass", stack.Password+"\n", 0o600)

	var b strings.Builder
	fmt.Fprintf(&b, `# Configuration of the crash suite (generated).
[gateway]
domain = %q
team = %q
data_dir = "data"
database = "data/secgate.db"
log_level = "info"

[team_key]
path = "data/team-key.asc"
passphrase_file = "team.pass"
passphrase_env = ""

[imap]
address = %q
user = %q
password_file = "imap.pass"
tls = "plain-loopback"
push_listen = %q

[smtp]
address = %q
user = %q
password_file = "smtp.pass"
tls = "plain-loopback"
parallel = 1

[metrics]
listen = ""

[project]
name = "Crashtest"

[intake]
backoff_min = "50ms"
backoff_max = "500ms"
rate_limit = 1000
new_cases_per_day = 1000

[distlist]
retry_base = "300ms"
retry_max = "3s"
max_attempts = 50

[schedule]
embargo_list = "embargo"
public_lists = []
retry_delay = "1s"
`, stack.Domain, stack.Addr("security"), stack.IMAPAddr, stack.Addr("security"), pushAddr, stack.SubmissionAddr, stack.Addr("security"))
	for i, m := range members {
		addr := stack.Addr(m)
		k := gen(m, addr)
		e.members[m] = k
		kf := "keys/" + m + ".asc"
		write(kf, pub(k), 0o644)
		fmt.Fprintf(&b, "\n[[distlist.member]]\nname = %q\naddress = %q\nkey_file = %q\nrole = \"lead\"\nrota = %d\n", m, addr, kf, i+1)
	}
	b.WriteString("\n[[distlist.list]]\nname = \"embargo\"\nkind = \"embargo\"\n")
	for _, d := range dists {
		addr := stack.Addr(d)
		e.dists = append(e.dists, addr)
		kf := "keys/" + d + ".asc"
		write(kf, pub(gen("Distributor "+d, addr)), 0o644)
		fmt.Fprintf(&b, "\n[[distlist.list.recipient]]\nname = %q\naddress = %q\nkey_file = %q\n", "Distributor "+d, addr, kf)
	}
	write("secgate.toml", b.String(), 0o644)

	e.reporter = gpgtest.New(t)
	e.repAddr = "reporter@outside.example"
	e.repFpr = e.reporter.GenKey("Reporter <"+e.repAddr+">", "ed25519")
	e.reporter.Import([]byte(pub(e.team)))
	return e
}

// report is a PGP/MIME report, signed and encrypted by the reporter's gpg
// to the team key, with the reporter's key attached inside. The canary is
// in the encrypted text only.
func (e *crashEnv) report(id, canary string) []byte {
	inner := "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Heap overflow in the token parser; proof of concept below.\r\n" + canary + "\r\n" +
		"\r\n--in\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"reporter.asc\"\r\n\r\n" +
		strings.ReplaceAll(string(e.reporter.Export(e.repFpr)), "\n", "\r\n") + "\r\n--in--\r\n"
	enc := e.reporter.Encrypt([]byte(inner), e.team.Fingerprint(), e.repFpr)
	return toCRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: ...\nDate: %s\nMessage-ID: <%s>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n"+
		"--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\n\n%s\n--enc--\n",
		e.repAddr, e.stack.Addr("security"), time.Now().Format(time.RFC1123Z), id, enc)))
}

func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// openRO opens the gateway's database read-only.
func openRO(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// killSnapshot is what the database held right after a kill.
type killSnapshot struct {
	sending       []string // Message-IDs of outbox rows in state sending
	noticePending int      // embargo-notice rows not yet sent
	intakeOpen    int      // inbound rows stored but not processed, or handled but not moved
}

func snapshotAfterKill(path string) (killSnapshot, error) {
	var s killSnapshot
	db, err := openRO(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	defer db.Close()
	ctx := context.Background()
	var hasOutbox int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'outbox'`).Scan(&hasOutbox); err != nil || hasOutbox == 0 {
		return s, err // killed before the schema was created
	}
	rows, err := db.QueryContext(ctx, `SELECT message_id FROM outbox WHERE state = 'sending'`)
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return s, err
		}
		s.sending = append(s.sending, id)
	}
	rows.Close()
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE kind = 'embargo-notice' AND state <> 'sent'`).Scan(&s.noticePending); err != nil {
		return s, err
	}
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM inbound WHERE state IN ('stored', 'released') OR (state IN ('processed', 'quarantined') AND moved = 0)`).Scan(&s.intakeOpen)
	return s, err
}

// stripTrace removes the header fields the receiving servers prepend
// (Return-Path, Delivered-To, Received, X-Original-To) and returns the
// message as the gateway sent it.
func stripTrace(raw []byte) []byte {
	raw = toCRLF(raw)
	rest := raw
	for {
		line, after, ok := bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			return rest
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(string(name)) {
		case "return-path", "delivered-to", "received", "x-original-to":
		default:
			return rest
		}
		rest = after
		// Continuation lines of the same field.
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			_, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		}
	}
}

// messageID returns the Message-ID of a raw message without <>.
func messageID(raw []byte) string {
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>")
}

// copyDB copies the database (and its WAL, if any) to dir and returns the
// new path.
func copyDB(t testing.TB, path, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// freeLoopbackAddr returns a loopback host:port that was free a moment ago.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
