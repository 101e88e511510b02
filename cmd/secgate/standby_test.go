package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
)

// TestWarmStandbyDrill is the README's warm-standby drill, run twice: the
// primary lost at the backup ("lost"), and stopped before it ("stopped").
//
// In each, a primary
// `secgate serve` fans an embargo notice out to 200 distributors through a
// slow SMTP server; `secgate backup` runs in the middle of the fan-out; the
// primary is then lost with its data directory (kill -9, the directory
// removed); the backup and the locked team key kept with it are restored
// into an empty data directory on a standby with the same configuration,
// and `secgate serve` there finishes the fan-out against the same server.
//
// The primary is lost at the moment of the backup: the server holds its
// answers to DATA from the moment the fan-out is well under way until the
// primary is dead, accepting each message it receives meanwhile (as a
// server that has the message when the client's connection dies before the
// 250 reaches it), so the backup is the last state the primary reached.
// What the standby sends twice is then bounded by what the backup shows in
// flight: every distributor gets the notice; a message arrives twice only
// if its row was being sent (claimed, not marked sent) in the backup, so
// there are at most as many duplicates as such rows, each byte-identical to
// the first copy; no row sent in the backup is sent again, and none more
// than twice; the messages held when the primary died (it sent them and
// never heard they were accepted) do arrive twice. Before the standby
// starts, `secgate audit verify` passes on the restored database and
// `secgate outbox -state sending` lists the backup's rows in flight; the
// standby logs how many rows it resumes; the audit log verifies again
// after its run.
//
// Stopped instead (SIGTERM while the server holds its answers, which it
// then gives, so the primary finishes its SMTP transactions and records
// them), the backup taken after the stop leaves nothing to send twice: the
// rows it shows in flight were claimed ahead and never tried, and every
// message arrives once.
func TestWarmStandbyDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds secgate and runs four gateways")
	}
	began := time.Now()
	bin := buildSecgate(t, t.TempDir())
	t.Logf("secgate built in %s", time.Since(began).Round(time.Millisecond))
	t.Run("lost", func(t *testing.T) { standbyDrill(t, bin, false) })
	t.Run("stopped", func(t *testing.T) { standbyDrill(t, bin, true) })
}

// standbyDrill runs the drill with the binary bin; stop stops the primary
// before the backup instead of losing it after.
func standbyDrill(t *testing.T, bin string, stop bool) {
	began := time.Now()
	const nDists, parallel, holdAt = 200, 4, 60
	ctx := context.Background()
	tmp := t.TempDir()

	imap, err := startBenchIMAP("security@example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer imap.Close()
	sink, err := startHoldSink("security@example.org", benchPassword, 8*time.Millisecond, holdAt)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	// The configuration directory (what /etc/secgate holds: the file, the
	// passphrase, the password files, the members' and distributors' public
	// keys) is provisioned on both machines; the data directory only on
	// the primary.
	primary, standby := filepath.Join(tmp, "primary"), filepath.Join(tmp, "standby")
	offsite := filepath.Join(tmp, "offsite") // where the backups and the locked team key are kept
	files := standbyConfig(t, imap.Addr, sink.Addr, nDists, parallel)
	for _, d := range []string{primary, standby} {
		for name, data := range files {
			p := filepath.Join(d, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	team, err := crypto.GenerateKey("Security Team", "security@example.org", crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	locked, err := team.ArmorPrivate([]byte(standbyPass))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(primary, "data", "team-key.asc"), filepath.Join(offsite, "team-key.asc")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(locked), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	primaryCfg, standbyCfg := filepath.Join(primary, "secgate.toml"), filepath.Join(standby, "secgate.toml")
	ref := standbyPlanCase(t, ctx, primaryCfg)

	// The primary fans the notice out; the server holds its answers once
	// holdAt notices are in.
	logs := filepath.Join(tmp, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	p1, err := startServe(bin, primaryCfg, filepath.Join(logs, "primary.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p1.kill()
	select {
	case <-sink.holding:
	case <-p1.done:
		t.Fatalf("the primary exited: %v\n%s", p1.err, p1.tail(30))
	case <-time.After(2 * time.Minute):
		t.Fatalf("the fan-out did not reach %d notices: %d\n%s", holdAt, sink.notices(), p1.tail(30))
	}
	// Each of the primary's connections hands over its next message and
	// waits for the 250.
	for deadline := time.Now().Add(10 * time.Second); sink.heldCount() < parallel && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	backup := filepath.Join(offsite, "secgate-drill.db")
	takeBackup := func() {
		t.Helper()
		if out, err := exec.Command(bin, "backup", "-config", primaryCfg, backup).CombinedOutput(); err != nil || !strings.Contains(string(out), "written to "+backup) {
			t.Fatalf("secgate backup: %v\n%s", err, out)
		}
	}
	var held []string
	if stop {
		// SIGTERM, then the server gives the 250s it held: the primary
		// finishes those transactions, records them and exits; the
		// backup comes after.
		if err := p1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		held = sink.release()
		select {
		case <-p1.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("the primary did not stop on SIGTERM\n%s", p1.tail(20))
		}
		if p1.err != nil {
			t.Fatalf("the primary exited with %v\n%s", p1.err, p1.tail(20))
		}
		takeBackup()
	} else {
		// The backup during the fan-out, then the primary is lost.
		takeBackup()
		p1.kill()
		held = sink.release()
	}
	if len(held) == 0 {
		t.Fatal("the server held no message")
	}
	if err := os.RemoveAll(filepath.Join(primary, "data")); err != nil {
		t.Fatal(err)
	}
	atLoss := sink.notices()
	if atLoss >= nDists {
		t.Fatalf("the fan-out was over (%d notices) before the primary was gone", atLoss)
	}

	// What the backup holds.
	snap := readStandbyBackup(t, backup)
	if snap.notices != nDists {
		t.Fatalf("the backup holds %d embargo-notice rows, want %d (the notice is queued whole or not at all)", snap.notices, nDists)
	}

	// Restore on the standby: an empty data directory, the backup as its
	// database, the locked team key kept with the backups.
	data := filepath.Join(standby, "data")
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the standby's data directory exists before the restore: %v", err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{backup: "secgate.db", filepath.Join(offsite, "team-key.asc"): "team-key.asc"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Before the standby starts: the restored audit log verifies, and the
	// rows in flight, which it will send again, are listed.
	if out, err := exec.Command(bin, "audit", "verify", "-config", standbyCfg).CombinedOutput(); err != nil || !strings.Contains(string(out), ref) {
		t.Fatalf("secgate audit verify on the restored database: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "outbox", "-state", "sending", "-n", "1000", "-json", "-config", standbyCfg).Output()
	if err != nil {
		t.Fatalf("secgate outbox -state sending: %v", err)
	}
	var inFlight []outboxRowJSON
	if err := json.Unmarshal(out, &inFlight); err != nil {
		t.Fatalf("secgate outbox -json: %v\n%s", err, out)
	}
	listed := map[string]bool{}
	for _, r := range inFlight {
		listed[r.MessageID] = true
	}
	if !maps.Equal(listed, snap.sending) {
		t.Errorf("secgate outbox -state sending lists %d rows, want the backup's %d in flight", len(listed), len(snap.sending))
	}
	restored := time.Now()
	p2, err := startServe(bin, standbyCfg, filepath.Join(logs, "standby.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.kill()
	if err := standbyWaitSent(filepath.Join(data, "secgate.db"), p2, 2*time.Minute); err != nil {
		t.Fatalf("the standby did not finish: %v\n%s", err, p2.tail(30))
	}
	finished := time.Since(restored)
	if err := p2.stop(30 * time.Second); err != nil {
		t.Fatalf("the standby did not stop on SIGTERM: %v\n%s", err, p2.tail(20))
	}
	resumed := ""
	if b, err := os.ReadFile(p2.log); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "resuming rows") {
				resumed = l
			}
		}
	}
	if want := fmt.Sprintf(" rows=%d", len(snap.sending)); len(snap.sending) > 0 && !strings.Contains(resumed+" ", want+" ") ||
		len(snap.sending) == 0 && resumed != "" {
		t.Errorf("the standby's log does not say it resumes the %d rows in flight: %q", len(snap.sending), resumed)
	}

	// What arrived.
	db, err := openRO(filepath.Join(data, "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type row struct{ kind, recipient, state string }
	rows := map[string]row{} // Message-ID -> row
	rs, err := db.QueryContext(ctx, `SELECT message_id, kind, recipient, state FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id string
		var r row
		if err := rs.Scan(&id, &r.kind, &r.recipient, &r.state); err != nil {
			t.Fatal(err)
		}
		rows[id] = r
	}
	rs.Close()
	copies := map[string][][]byte{}
	for _, m := range sink.messages() {
		copies[m.id] = append(copies[m.id], m.data)
	}
	got := map[string]bool{} // distributors who have the notice
	dups := 0
	for id, cs := range copies {
		r, ok := rows[id]
		if !ok {
			t.Errorf("the server got %q, which is no outbox row", id)
			continue
		}
		if r.kind == "embargo-notice" {
			got[r.recipient] = true
		}
		if len(cs) == 1 {
			continue
		}
		dups += len(cs) - 1
		switch {
		case !snap.sending[id]:
			t.Errorf("%s (%s to %s) arrived %d times, but its row was %s in the backup, not in flight", id, r.kind, r.recipient, len(cs), snap.state[id])
		case len(cs) > 2:
			t.Errorf("%s (%s to %s) arrived %d times: a row in flight is sent again once", id, r.kind, r.recipient, len(cs))
		case !bytes.Equal(cs[0], cs[1]):
			t.Errorf("%s: the second copy differs from the first", id)
		}
	}
	for id, r := range rows {
		if r.kind == "embargo-notice" && r.state != "sent" {
			t.Errorf("embargo notice %s to %s is %s, want sent", id, r.recipient, r.state)
		}
	}
	for i := 1; i <= nDists; i++ {
		if a := standbyDist(i); !got[a] {
			t.Errorf("%s never got the embargo notice", a)
		}
	}
	if dups > len(snap.sending) {
		t.Errorf("%d duplicates, more than the %d rows in flight in the backup", dups, len(snap.sending))
	}
	switch {
	case stop && dups > 0:
		t.Errorf("%d duplicates after a clean stop and a backup taken after it, want none", dups)
	case !stop:
		for _, id := range held {
			if len(copies[id]) != 2 {
				t.Errorf("%s: the primary died waiting for the 250 of a message the server has, which arrived %d times, want twice (its row was in flight and is sent again)", id, len(copies[id]))
			}
		}
	}

	// The audit log verifies on the standby's database after its run.
	out, err = exec.Command(bin, "audit", "verify", "-config", standbyCfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ref) {
		t.Errorf("secgate audit verify on the standby: %v\n%s", err, out)
	}
	logErrors(t, logs)
	t.Logf("drill: %d distributors, %d notices delivered when the primary was gone; the backup had %d rows sent, %d in flight, %d queued; "+
		"%d messages held, %d duplicates; standby finished %s after the restore; %s in all",
		nDists, atLoss, snap.count("sent"), len(snap.sending), snap.count("queued")+snap.count("deferred"), len(held), dups,
		finished.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

const standbyPass = "standby drill passphrase, not secret"

func standbyDist(i int) string { return fmt.Sprintf("security@distro%03d.example", i) }

// standbyConfig returns the files of the configuration directory, by
// path: the configuration, the passphrase and password files and the
// public keys it names.
func standbyConfig(t *testing.T, imapAddr, smtpAddr string, nDists, parallel int) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"team.pass": []byte(standbyPass + "\n"),
		"imap.pass": []byte(benchPassword + "\n"),
		"smtp.pass": []byte(benchPassword + "\n"),
	}
	created := time.Now().Add(-time.Hour)
	pub := func(name, addr string) string {
		t.Helper()
		k, err := crypto.GenerateKey(name, addr, crypto.GenerateOptions{Created: created})
		if err != nil {
			t.Fatal(err)
		}
		a, err := k.ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# The standby drill's configuration (generated).
[gateway]
domain = "example.org"
team = "security@example.org"
data_dir = "data"
database = "data/secgate.db"

[team_key]
path = "data/team-key.asc"
passphrase_file = "team.pass"
passphrase_env = ""

[imap]
address = %q
user = "security@example.org"
password_file = "imap.pass"
tls = "plain-loopback"

[smtp]
address = %q
user = "security@example.org"
password_file = "smtp.pass"
tls = "plain-loopback"
parallel = %d

[metrics]
listen = ""

[project]
name = "Standby"

[distlist]
retry_base = "300ms"
retry_max = "3s"
max_attempts = 50

[schedule]
embargo_list = "embargo"
public_lists = []

[[distlist.member]]
name = "Alice"
address = "alice@example.org"
key_file = "keys/alice.asc"
role = "lead"
rota = 1

[[distlist.list]]
name = "embargo"
kind = "embargo"
`, imapAddr, smtpAddr, parallel)
	files["keys/alice.asc"] = []byte(pub("Alice", "alice@example.org"))
	for i := 1; i <= nDists; i++ {
		kf := fmt.Sprintf("keys/dist%03d.asc", i)
		files[kf] = []byte(pub(fmt.Sprintf("Distro %d", i), standbyDist(i)))
		fmt.Fprintf(&b, "\n[[distlist.list.recipient]]\nname = \"Distro %d\"\naddress = %q\nkey_file = %q\n", i, standbyDist(i), kf)
	}
	files["secgate.toml"] = []byte(b.String())
	return files
}

// standbyPlanCase opens a case on the primary's database through the
// gateway's own workflow, confirms and describes it, and plans its
// disclosure in 24 days: the embargo notice is due at once, for the
// primary's scheduler and outbox. It returns the case's reference.
func standbyPlanCase(t *testing.T, ctx context.Context, cfgPath string) string {
	t.Helper()
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := loadTeamKey(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	alice, err := g.dir.MemberByAddress(ctx, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	actor := alice.Key.Fingerprint()
	t0 := time.Now().Add(24 * 24 * time.Hour).UTC().Truncate(time.Minute)
	var ref string
	err = g.db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := g.workflow.OpenCase(ctx, tx, cases.Report{MessageID: "<drill-1@reporter.example>", From: "rita@reporter.example",
			Subject: "token parser overflow", Text: "A long token overflows the parser's buffer.", Encrypted: true, Received: time.Now()})
		if err != nil {
			return err
		}
		ref = c.Ref
		if err := g.workflow.SetState(ctx, tx, c.ID, cases.StateConfirmed, actor, "reproduced"); err != nil {
			return err
		}
		cv, err := cases.ParseCVSS("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
		if err != nil {
			return err
		}
		err = g.workflow.UpdateCase(ctx, tx, c.ID, actor, "describe", "the drill's case", "<drill-2@example.org>", func(c *cases.Case) error {
			c.CVSSVector, c.CVSSScore, c.Severity = cv.Vector, cv.Score, cv.Severity
			c.Title, c.Impact = "Token parser overflow", "Remote attackers can crash the token parser."
			c.Affected, c.Fixed = "<= 1.4.0", "1.4.1"
			return nil
		})
		if err != nil {
			return err
		}
		if c, err = g.workflow.GetTx(ctx, tx, c.ID); err != nil {
			return err
		}
		_, err = g.sched.Disclose(ctx, tx, c, t0, cases.DiscloseOptions{}, actor)
		return err
	})
	if err != nil {
		t.Fatalf("plan the drill's case: %v", err)
	}
	return ref
}

// standbyBackup is what a backup's outbox holds.
type standbyBackup struct {
	state   map[string]string // Message-ID -> state
	sending map[string]bool   // Message-IDs of rows in flight: claimed, not marked sent
	notices int               // embargo-notice rows
}

func (b standbyBackup) count(state string) int {
	n := 0
	for _, s := range b.state {
		if s == state {
			n++
		}
	}
	return n
}

func readStandbyBackup(t *testing.T, path string) standbyBackup {
	t.Helper()
	// A copy: the backup itself stays as it was written.
	db, err := openRO(copyDB(t, path, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := standbyBackup{state: map[string]string{}, sending: map[string]bool{}}
	rs, err := db.Query(`SELECT message_id, kind, state FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, kind, state string
		if err := rs.Scan(&id, &kind, &state); err != nil {
			t.Fatal(err)
		}
		b.state[id] = state
		if state == "sending" {
			b.sending[id] = true
		}
		if kind == "embargo-notice" {
			b.notices++
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return b
}

// standbyWaitSent waits until no outbox row of the database at path waits
// to be sent (queued, deferred or sending).
func standbyWaitSent(path string, p *serveProc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("secgate serve exited: %v", p.err)
		}
		db, err := openRO(path)
		if err == nil {
			var waiting, total int
			err = db.QueryRow(`SELECT count(*) FILTER (WHERE state IN ('queued', 'deferred', 'sending')), count(*) FROM outbox`).Scan(&waiting, &total)
			db.Close()
			if err == nil && waiting == 0 && total > 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rows still waiting after %s (%v)", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holdSink is an SMTP server (AUTH PLAIN, no TLS) that takes delay over
// each message, and holds its answers to DATA once it has accepted holdAt
// embargo notices: from then on each message is kept as accepted, and
// its 250 is not sent until release.
type holdSink struct {
	Addr    string
	srv     *smtp.Server
	user    string
	pass    string
	delay   time.Duration
	holdAt  int
	holding chan struct{} // closed when the hold begins

	mu       sync.Mutex
	msgs     []sinkMsg
	noticeN  int
	held     []string      // Message-IDs accepted while holding
	released chan struct{} // closed by release
}

type sinkMsg struct {
	id   string // Message-ID without <>
	data []byte
}

func startHoldSink(user, pass string, delay time.Duration, holdAt int) (*holdSink, error) {
	s := &holdSink{user: user, pass: pass, delay: delay, holdAt: holdAt, holding: make(chan struct{}), released: make(chan struct{})}
	s.srv = smtp.NewServer(holdBackend{s})
	s.srv.Domain = "next-hop.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 32 << 20
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

func (s *holdSink) Close() error { return s.srv.Close() }

// release ends the hold and returns the Message-IDs accepted during it.
func (s *holdSink) release() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.released:
	default:
		close(s.released)
	}
	return append([]string(nil), s.held...)
}

func (s *holdSink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

func (s *holdSink) notices() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noticeN
}

func (s *holdSink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

type holdBackend struct{ s *holdSink }

func (b holdBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &holdSession{s: b.s}, nil }

type holdSession struct {
	s      *holdSink
	authed bool
}

func (h *holdSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (h *holdSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != h.s.user || pass != h.s.pass {
			return smtp.ErrAuthFailed
		}
		h.authed = true
		return nil
	}), nil
}

func (h *holdSession) Mail(string, *smtp.MailOptions) error {
	if !h.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (h *holdSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (h *holdSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(h.s.delay)
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return err
	}
	id := strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>")
	// The notices are the only mail to the distributors' domains.
	notice := strings.Contains(m.Header.Get("To"), "@distro")
	s := h.s
	s.mu.Lock()
	s.msgs = append(s.msgs, sinkMsg{id: id, data: data})
	if notice {
		s.noticeN++
	}
	hold := false
	select {
	case <-s.released:
	default:
		select {
		case <-s.holding:
			hold = true
			s.held = append(s.held, id)
		default:
			if notice && s.noticeN >= s.holdAt {
				close(s.holding)
			}
		}
	}
	s.mu.Unlock()
	if hold {
		<-s.released // the 250, to a client that may be gone
	}
	return nil
}

func (h *holdSession) Reset()        {}
func (h *holdSession) Logout() error { return nil }
