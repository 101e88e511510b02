package mailstack

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// installHint is the message of a test failing for lack of the daemons.
const installHint = "run `make test` (it installs postfix, dovecot-imapd, dovecot-lmtpd, gnupg)"

// maxDirLen bounds the stack directory: Dovecot's longest socket path,
// DIR/run/token-login/imap-urlauth, must fit in the 108 bytes of sun_path.
const maxDirLen = 70

// startTimeout bounds how long the daemons may take to become ready.
const startTimeout = 30 * time.Second

// Options configure a stack.
type Options struct {
	// Users are the local parts of the mailboxes created at start. The sink
	// mailbox is always created.
	Users []string
	// Domain is the local mail domain; default "example.test".
	Domain string
	// Password of every user; default "secret". It must not contain ':'.
	Password string
	// RejectForeign makes Postfix refuse foreign recipients at RCPT
	// (550 5.1.1) instead of capturing them in the sink mailbox.
	RejectForeign bool
	// RelayHost, when set (host:port, host an IPv4 loopback address), makes
	// Postfix relay mail for foreign domains to that SMTP server, its
	// relayhost, instead of capturing it in the sink mailbox: the stack is
	// a smarthost. The server may be down: Postfix keeps the mail in its
	// queue and retries every few seconds (Queue shows the queue, Flush
	// retries at once).
	RelayHost string
	// TLS offers STARTTLS on SMTP, submission and IMAP, and adds an
	// implicit-TLS submission port and an IMAPS port. The certificate is
	// self-signed (RootCAs trusts it) for 127.0.0.1, localhost and
	// mail.Domain.
	TLS bool
	// PushURL, when set, makes Dovecot post a push notification (its
	// push_notification plugin, OX driver) to this URL on each delivery
	// to a user who asked for it with the server METADATA entry
	// /private/vendor/vendor.dovecot/http-notify; IMAP METADATA is on.
	PushURL string
	// Aliases maps local parts of Domain to where Postfix sends their mail
	// (virtual_alias_maps): a user's local part, with or without a +detail
	// ("security+a"), or a full address. An alias is a valid recipient at
	// RCPT; it needs no mailbox of its own.
	Aliases map[string]string
}

// Stack is a running Postfix + Dovecot pair.
type Stack struct {
	Domain   string
	Password string
	// SinkUser is the address (sink@Domain) of the mailbox that receives
	// every message sent to a foreign domain.
	SinkUser string

	SMTPAddr          string // inbound MX: no AUTH, local recipients only
	SubmissionAddr    string // AUTH PLAIN required, any recipient
	IMAPAddr          string // LOGIN/AUTHENTICATE PLAIN in cleartext
	SubmissionTLSAddr string // implicit TLS submission; "" unless Options.TLS
	IMAPTLSAddr       string // IMAPS; "" unless Options.TLS

	// RootCAs trusts the stack's certificate; nil unless Options.TLS.
	RootCAs *x509.CertPool
	// Dir holds configs, queue, maildirs and logs (log/postfix.log,
	// log/dovecot.log).
	Dir string
	// Started is how long the daemons took to become ready.
	Started time.Duration

	bin     binaries
	token   string
	mu      sync.Mutex
	users   map[string]bool
	dovecot *proc
	postfix *proc
}

var localPart = regexp.MustCompile(`^[a-z0-9._-]+$`)

// Start starts a stack and registers its shutdown with t.Cleanup. It fails
// the test (it never skips) when the daemons are not installed or do not
// start.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.Domain == "" {
		opts.Domain = "example.test"
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	if strings.ContainsAny(opts.Password, ":\n") {
		t.Fatalf("mailstack: password must not contain ':' or newline")
	}
	if err := checkRelayHost(opts); err != nil {
		t.Fatalf("mailstack: %v", err)
	}
	for _, u := range opts.Users {
		if !localPart.MatchString(strings.ToLower(u)) {
			t.Fatalf("mailstack: bad user name %q (want a local part)", u)
		}
	}
	for from, to := range opts.Aliases {
		if !localPart.MatchString(strings.ToLower(from)) || strings.ContainsAny(to, " \t\n") || to == "" {
			t.Fatalf("mailstack: bad alias %q -> %q (want a local part -> an address or a local part)", from, to)
		}
	}
	bin, err := findBinaries("/")
	if err != nil {
		t.Fatalf("mailstack: %v; %s", err, installHint)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("mailstack: Postfix and Dovecot must be started as root; run the tests as root (%s)", installHint)
	}
	// A port picked free can be taken by another process before the daemon
	// binds it: then start again on new ports.
	var errs []error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, opts)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("mailstack: start failed: %v", errors.Join(errs...))
	return nil
}

type binaries struct {
	dovecot, master string
}

// findBinaries locates the daemons under root ("" or "/" for the system;
// tests use a different root to see the message for a machine without
// them).
func findBinaries(root string) (binaries, error) {
	var b binaries
	var missing []string
	at := func(p string) string { return filepath.Join(root, p) }
	b.dovecot = at("/usr/sbin/dovecot")
	if !executable(b.dovecot) {
		missing = append(missing, "dovecot")
	}
	for _, p := range []string{"/usr/lib/dovecot/imap", "/usr/lib/dovecot/lmtp"} {
		if !executable(at(p)) {
			missing = append(missing, "dovecot-"+filepath.Base(p)+"d")
		}
	}
	for _, p := range []string{"/usr/lib/postfix/sbin/master", "/usr/libexec/postfix/master"} {
		if executable(at(p)) {
			b.master = at(p)
			break
		}
	}
	if b.master == "" || !executable(at("/usr/sbin/postfix")) {
		missing = append(missing, "postfix")
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("not installed: %s", strings.Join(missing, ", "))
	}
	return b, nil
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePorts returns n distinct ports that were free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func start(bin binaries, opts Options) (_ *Stack, err error) {
	t0 := time.Now()
	dir, err := os.MkdirTemp("", "ms")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	if len(dir) > maxDirLen {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("temp dir %s is longer than %d bytes: unix socket paths would not fit; set TMPDIR to a short directory", dir, maxDirLen)
	}
	tok := make([]byte, 6)
	rand.Read(tok)
	s := &Stack{
		Domain:   opts.Domain,
		Password: opts.Password,
		SinkUser: "sink@" + opts.Domain,
		Dir:      dir,
		bin:      bin,
		token:    hex.EncodeToString(tok),
		users:    map[string]bool{},
	}
	defer func() {
		if err != nil {
			s.kill()
			os.RemoveAll(dir)
			err = fmt.Errorf("%s: %w", dir, err)
		}
	}()
	nports := 3
	if opts.TLS {
		nports = 5
	}
	ports, err := freePorts(nports)
	if err != nil {
		return nil, err
	}
	d := &confData{
		Dir: dir, Domain: opts.Domain, Sink: "sink", Token: s.token,
		SMTPPort: ports[0], SubPort: ports[1], IMAPPort: ports[2],
		RejectForeign: opts.RejectForeign, TLS: opts.TLS, PushURL: opts.PushURL,
	}
	for from, to := range opts.Aliases {
		if !strings.Contains(to, "@") {
			to += "@" + opts.Domain
		}
		d.Aliases = append(d.Aliases, alias{From: strings.ToLower(from), To: to})
	}
	slices.SortFunc(d.Aliases, func(a, b alias) int { return strings.Compare(a.From, b.From) })
	if opts.TLS {
		d.SubTLSPort, d.IMAPTLSPort = ports[3], ports[4]
		if fileExists("/usr/share/dovecot/dh.pem") {
			d.DHFile = "/usr/share/dovecot/dh.pem"
		}
	}
	d.RelayHost = relayHostLiteral(opts.RelayHost)
	if err := s.prepare(d); err != nil {
		return nil, err
	}
	if opts.TLS {
		pool, err := writeCert(filepath.Join(dir, "tls"), opts.Domain)
		if err != nil {
			return nil, err
		}
		s.RootCAs = pool
		s.SubmissionTLSAddr = addr(d.SubTLSPort)
		s.IMAPTLSAddr = addr(d.IMAPTLSPort)
	}
	s.SMTPAddr, s.SubmissionAddr, s.IMAPAddr = addr(d.SMTPPort), addr(d.SubPort), addr(d.IMAPPort)
	for _, u := range append([]string{"sink"}, opts.Users...) {
		if err := s.writeUser(strings.ToLower(u)); err != nil {
			return nil, err
		}
	}
	if err := backdate(filepath.Join(dir, "postfix")); err != nil {
		return nil, err
	}

	deadline := time.Now().Add(startTimeout)
	s.dovecot, err = spawn(filepath.Join(dir, "log", "dovecot.stderr"), bin.dovecot, "-F", "-c", filepath.Join(dir, "dovecot", "dovecot.conf"))
	if err != nil {
		return nil, fmt.Errorf("start dovecot: %w", err)
	}
	if err := s.waitReady(s.dovecot, "dovecot", deadline, func() error {
		for _, sock := range []string{"lmtp", "auth-postfix"} {
			if _, err := os.Stat(filepath.Join(dir, "run", sock)); err != nil {
				return err
			}
		}
		return checkBanner(s.IMAPAddr, s.token, nil)
	}); err != nil {
		return nil, err
	}
	s.postfix, err = spawn(filepath.Join(dir, "log", "postfix.stderr"), bin.master, "-c", filepath.Join(dir, "postfix"), "-d")
	if err != nil {
		return nil, fmt.Errorf("start postfix: %w", err)
	}
	if err := s.waitReady(s.postfix, "postfix", deadline, func() error {
		if err := checkBanner(s.SMTPAddr, s.token, nil); err != nil {
			return err
		}
		if err := checkBanner(s.SubmissionAddr, s.token, nil); err != nil {
			return err
		}
		if s.SubmissionTLSAddr != "" {
			return checkBanner(s.SubmissionTLSAddr, s.token, s.tlsConfig())
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if s.IMAPTLSAddr != "" {
		if err := checkBanner(s.IMAPTLSAddr, s.token, s.tlsConfig()); err != nil {
			return nil, fmt.Errorf("dovecot imaps: %w", err)
		}
	}
	s.Started = time.Since(t0)
	return s, nil
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// prepare creates the directory tree and writes both configurations.
func (s *Stack) prepare(d *confData) error {
	dir := d.Dir
	vu, err := user.Lookup("mail")
	if err != nil {
		return fmt.Errorf("system user mail: %w", err)
	}
	vuid, _ := strconv.Atoi(vu.Uid)
	vgid, _ := strconv.Atoi(vu.Gid)
	vg, err := user.LookupGroupId(vu.Gid)
	if err != nil {
		return fmt.Errorf("group of user mail: %w", err)
	}
	d.VUser, d.VGroup, d.VUID, d.VGID = vu.Username, vg.Name, vuid, vgid
	pf, err := user.Lookup("postfix")
	if err != nil {
		return fmt.Errorf("system user postfix: %w (%s)", err, installHint)
	}
	pfuid, _ := strconv.Atoi(pf.Uid)
	pfgid, _ := strconv.Atoi(pf.Gid)
	postdrop, err := user.LookupGroup("postdrop")
	if err != nil {
		return fmt.Errorf("group postdrop: %w (%s)", err, installHint)
	}
	pdgid, _ := strconv.Atoi(postdrop.Gid)
	dc, err := user.LookupGroup("dovecot")
	if err != nil {
		return fmt.Errorf("group dovecot: %w (%s)", err, installHint)
	}
	dcgid, _ := strconv.Atoi(dc.Gid)

	// Postfix's smtpd and lmtp run as postfix and must traverse dir to reach
	// Dovecot's sockets: MkdirTemp's 0700 would lock them out.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	type mk struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}
	dirs := []mk{
		{"postfix", 0o755, 0, 0}, {"dovecot", 0o755, 0, 0}, {"run", 0o755, 0, 0},
		{"state", 0o755, 0, 0}, {"log", 0o755, 0, 0}, {"tls", 0o755, 0, 0},
		{"lib", 0o700, pfuid, pfgid}, {"mail", 0o770, vuid, vgid},
		{"spool", 0o755, 0, 0}, {"spool/pid", 0o755, 0, 0},
		{"spool/maildrop", 0o730, pfuid, pdgid}, {"spool/public", 0o710, pfuid, pdgid},
	}
	for _, q := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		dirs = append(dirs, mk{"spool/" + q, 0o700, pfuid, 0})
	}
	for _, m := range dirs {
		p := filepath.Join(dir, m.path)
		if err := os.Mkdir(p, m.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, m.mode); err != nil { // umask
			return err
		}
		if err := os.Chown(p, m.uid, m.gid); err != nil {
			return err
		}
	}
	files := []struct {
		path string
		conf func() ([]byte, error)
	}{
		{"postfix/main.cf", func() ([]byte, error) { return render(postfixMain, d) }},
		{"postfix/master.cf", func() ([]byte, error) { return render(postfixMaster, d) }},
		{"postfix/valias", func() ([]byte, error) { return render(postfixAliases, d) }},
		{"postfix/vmailbox", func() ([]byte, error) { return nil, nil }},
		{"dovecot/dovecot.conf", func() ([]byte, error) { return render(dovecotConf, d) }},
		{"dovecot/users", func() ([]byte, error) { return nil, nil }},
	}
	for _, f := range files {
		b, err := f.conf()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.path), b, 0o644); err != nil {
			return err
		}
	}
	// Dovecot's auth process runs as dovecot and reads the passwd-file.
	users := filepath.Join(dir, "dovecot", "users")
	if err := os.Chown(users, 0, dcgid); err != nil {
		return err
	}
	return os.Chmod(users, 0o640)
}

// backdate sets the mtime of every file in dir 10 s back: Postfix will not
// use a main.cf or texthash map modified within the last second and sleeps
// in a loop until it has "settled".
func backdate(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	past := time.Now().Add(-10 * time.Second)
	for _, e := range ents {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), past, past); err != nil {
			return err
		}
	}
	return nil
}

// writeUser appends name@Domain to Dovecot's passwd-file and Postfix's
// recipient map. The caller holds s.mu or owns s exclusively.
func (s *Stack) writeUser(name string) error {
	if s.users[name] {
		return nil
	}
	addr := name + "@" + s.Domain
	if err := appendFile(filepath.Join(s.Dir, "dovecot", "users"), fmt.Sprintf("%s:{PLAIN}%s::::::\n", addr, s.Password)); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(s.Dir, "postfix", "vmailbox"), addr+"\tOK\n"); err != nil {
		return err
	}
	s.users[name] = true
	return nil
}

func appendFile(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	return errors.Join(err, f.Close())
}
