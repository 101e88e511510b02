package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/internal/testwait"
)

// Fault injection against the real Dovecot of internal/mailstack: a wrong
// password, connections cut in the middle of IDLE and of a FETCH, the
// server down for a while, and a mailbox recreated under a new
// UIDVALIDITY. Each test checks that the poller comes back by itself and
// that nothing is lost or handled twice.

// logRecorder is a slog handler that keeps every record, for assertions on
// what the poller logs.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

// find returns the records whose message contains msg.
func (l *logRecorder) find(msg string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.recs {
		if strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

func (l *logRecorder) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		fmt.Fprintf(&b, "%s %v\n", r.msg, r.attrs)
	}
	return b.String()
}

// startLoggedPoller runs a poller of g with cfg and a recording logger
// until the returned stop is called.
func (g *gateway) startLoggedPoller(cfg Config, hook func(string) error) (*logRecorder, func()) {
	g.t.Helper()
	rec := &logRecorder{}
	p, err := NewPoller(cfg, g.db, g.team, g.proc, nil, slog.New(rec))
	if err != nil {
		g.t.Fatal(err)
	}
	p.hook = hook
	ctx, cancel := context.WithCancel(g.ctx)
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	g.t.Cleanup(stop)
	return rec, stop
}

// countCases checks that each case has exactly one processed report and
// returns the number of cases.
func (g *gateway) countCases() int {
	g.t.Helper()
	list, err := g.workflow.List(g.ctx, cases.ListOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	return len(list)
}

func (g *gateway) inboundCount(where string) int {
	g.t.Helper()
	var n int
	if err := g.db.Reader().QueryRow(`SELECT count(*) FROM inbound WHERE ` + where).Scan(&n); err != nil {
		g.t.Fatal(err)
	}
	return n
}

// assertOnce checks the end state after n reports: n cases, n processed
// inbound rows (one per report), all moved, and n messages in Processed.
func (g *gateway) assertOnce(n int) {
	g.t.Helper()
	// The message shows in Processed as soon as the server has moved it;
	// the poller records the move a moment later.
	testwait.Within(g.t, 10*time.Second, fmt.Sprintf("%d reports recorded as moved", n), func() bool {
		return g.inboundCount("class = 'report' AND state = 'processed' AND moved = 1") >= n
	})
	if c := g.countCases(); c != n {
		g.t.Errorf("%d cases, want %d", c, n)
	}
	if rows, distinct := g.inboundCount("class = 'report'"), g.inboundCount("class = 'report' AND state = 'processed' AND moved = 1"); rows != n || distinct != n {
		g.t.Errorf("inbound: %d report rows, %d processed and moved; want %d", rows, distinct, n)
	}
	var cases int
	g.db.Reader().QueryRow(`SELECT count(DISTINCT case_id) FROM inbound WHERE class = 'report'`).Scan(&cases)
	if cases != n {
		g.t.Errorf("reports in %d distinct cases, want %d", cases, n)
	}
	seen := map[string]int{}
	for _, raw := range g.stack.Messages(g.t, "security", "Processed") {
		id, _ := headerIdentity(raw)
		seen[id]++
	}
	if len(seen) != n {
		g.t.Errorf("Processed holds %d distinct messages, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			g.t.Errorf("Processed holds %d copies of %s", k, id)
		}
	}
	if k := len(g.stack.Messages(g.t, "security", "INBOX")); k != 0 {
		g.t.Errorf("INBOX still holds %d messages", k)
	}
}

// TestIMAPFaultLoginFailure: with a wrong password the poller keeps
// retrying with a growing backoff and says why, stores nothing and never
// logs the password; once the password file is right it picks the waiting
// report up.
func TestIMAPFaultLoginFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	g.send(g.inlineReport(1, "INLINE: waits for a working login"))
	g.stack.WaitMessages(t, "security", "INBOX", 1, time.Minute)

	const wrong = "wrong-password-xyzzy"
	cfg := g.cfg
	cfg.PasswordFile = filepath.Join(t.TempDir(), "imap-password")
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 160*time.Millisecond
	if err := writeFile(cfg.PasswordFile, wrong+"\n"); err != nil {
		t.Fatal(err)
	}
	rec, stop := g.startLoggedPoller(cfg, nil)
	defer stop()
	testwait.Within(t, 30*time.Second, "six failed logins logged", func() bool {
		return len(rec.find("reconnecting")) >= 6
	})
	fails := rec.find("reconnecting")
	for _, r := range fails {
		if !strings.Contains(r.attrs["err"], "login as "+g.cfg.User) {
			t.Errorf("reconnect logged with %q, want the login failure", r.attrs["err"])
		}
	}
	// The wait doubles (with jitter in [d/2, d]) up to the maximum.
	first, _ := time.ParseDuration(fails[0].attrs["in"])
	late, _ := time.ParseDuration(fails[5].attrs["in"])
	if first > cfg.BackoffMin || late < cfg.BackoffMax/2 || late > cfg.BackoffMax {
		t.Errorf("backoff: first wait %s, sixth %s; want <= %s, then within [%s, %s]", first, late, cfg.BackoffMin, cfg.BackoffMax/2, cfg.BackoffMax)
	}
	if n := g.inboundCount("1 = 1"); n != 0 {
		t.Errorf("%d messages stored without a login", n)
	}
	if strings.Contains(rec.all(), wrong) {
		t.Error("the password appears in the log")
	}
	if len(rec.find("watching mailbox")) != 0 {
		t.Error("the poller claims to watch the mailbox with a wrong password")
	}

	// The operator fixes the password file: the next attempt works.
	if err := writeFile(cfg.PasswordFile, g.stack.Password+"\n"); err != nil {
		t.Fatal(err)
	}
	g.stack.WaitMessages(t, "security", "Processed", 1, time.Minute)
	if len(rec.find("watching mailbox")) == 0 {
		t.Error("no 'watching mailbox' after the password was fixed")
	}
	g.assertOnce(1)
}

// faultProxy is a TCP proxy on loopback in front of Dovecot that the test
// can cut: all connections at once, or when the client starts IDLE, or in
// the middle of a FETCH response carrying a message body; and that can stop
// accepting for a while, as a restarting server does.
type faultProxy struct {
	t        testing.TB
	upstream string
	addr     string

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
	accepted int
	cutIdle  bool // cut every connection when the client sends IDLE (once)
	cutFetch bool // cut a FETCH response carrying a body half-way (once)
	// midLiteral makes the FETCH cut fall inside the body literal rather
	// than just before it.
	midLiteral bool
	cuts       []string
}

func newFaultProxy(t testing.TB, upstream string) *faultProxy {
	t.Helper()
	p := &faultProxy{t: t, upstream: upstream, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down() })
	return p
}

func (p *faultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

func (p *faultProxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.accepted++
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()
	// client -> server: watch for IDLE.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if _, werr := server.Write(buf[:n]); werr != nil {
					break
				}
				if bytes.HasSuffix(bytes.TrimRight(buf[:n], "\r\n"), []byte(" IDLE")) && p.take(&p.cutIdle, "mid-IDLE") {
					// Let the server's "+ idling" through first.
					time.Sleep(50 * time.Millisecond)
					p.cutAll()
					return
				}
			}
			if err != nil {
				break
			}
		}
		client.Close()
		server.Close()
	}()
	// server -> client: watch for a body literal.
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if i := bytes.Index(chunk, []byte("BODY[] {")); i >= 0 && p.take(&p.cutFetch, "mid-FETCH") {
				// The response has begun ("* 1 FETCH (UID 4 "); it ends
				// there, or half-way through the literal.
				end := i
				if p.midLiteral {
					end = i + (n-i)/2
				}
				client.Write(chunk[:end])
				p.cutAll()
				return
			}
			if _, werr := client.Write(chunk); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	client.Close()
	server.Close()
}

// take reports whether the armed fault *flag fires now (and disarms it).
func (p *faultProxy) take(flag *bool, name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !*flag {
		return false
	}
	*flag = false
	p.cuts = append(p.cuts, name)
	return true
}

func (p *faultProxy) arm(flag *bool) {
	p.mu.Lock()
	*flag = true
	p.mu.Unlock()
}

// cutAll closes every proxied connection.
func (p *faultProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// down stops accepting and cuts everything, as a stopped server.
func (p *faultProxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.cutAll()
}

// up accepts again on the same address, as a restarted server.
func (p *faultProxy) up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
}

func (p *faultProxy) sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *faultProxy) fired() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.cuts...)
}

// TestIMAPFaultCutMidIdle: the connection dies while the poller idles;
// it reconnects and the report that arrives meanwhile opens one case.
func TestIMAPFaultCutMidIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	proxy := newFaultProxy(t, g.stack.IMAPAddr)
	cfg := g.cfg
	cfg.Address = proxy.addr
	g.send(g.inlineReport(1, "INLINE: before the cut"))
	g.stack.WaitMessages(t, "security", "INBOX", 1, time.Minute)
	// The first IDLE, once the first report is handled, is cut.
	proxy.arm(&proxy.cutIdle)
	rec, stop := g.startLoggedPoller(cfg, nil)
	defer stop()
	g.stack.WaitMessages(t, "security", "Processed", 1, time.Minute)
	testwait.Within(t, time.Minute, "the cut mid-IDLE", func() bool { return len(proxy.fired()) == 1 })
	g.send(g.inlineReport(2, "INLINE: after the cut"))
	g.stack.WaitMessages(t, "security", "Processed", 2, time.Minute)
	if n := proxy.sessions(); n < 2 {
		t.Errorf("%d IMAP sessions; want a reconnection after the cut", n)
	}
	if len(rec.find("reconnecting")) == 0 {
		t.Error("the dropped session was not logged")
	}
	g.assertOnce(2)
}

// TestIMAPFaultCutMidFetch: the connection dies in the middle of a FETCH
// response carrying a message body, just before the body literal or half-way
// through it; nothing partial is stored, the poller fetches it again after
// reconnecting and it opens exactly one case.
//
// Half-way through the literal used to trip a data race in go-imap
// v2.0.0-beta.8: after a failed literal read, closing the command reads the
// literal again while the client's reader goroutine goes on. The poller
// therefore drops the connection rather than close the command; -race
// checks it here.
func TestIMAPFaultCutMidFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	for _, mid := range []bool{false, true} {
		name := "before literal"
		if mid {
			name = "mid-literal"
		}
		t.Run(name, func(t *testing.T) { cutMidFetch(t, mid) })
	}
}

func cutMidFetch(t *testing.T, midLiteral bool) {
	g := startGateway(t)
	proxy := newFaultProxy(t, g.stack.IMAPAddr)
	cfg := g.cfg
	cfg.Address = proxy.addr
	for i := range 3 {
		g.send(g.inlineReport(10+i, fmt.Sprintf("INLINE: report %d, cut mid-fetch", i)))
	}
	g.stack.WaitMessages(t, "security", "INBOX", 3, time.Minute)
	proxy.midLiteral = midLiteral
	proxy.arm(&proxy.cutFetch)
	var stored []int
	var mu sync.Mutex
	_, stop := g.startLoggedPoller(cfg, func(step string) error {
		if step == "stored" {
			mu.Lock()
			stored = append(stored, g.inboundCount("1 = 1"))
			mu.Unlock()
		}
		return nil
	})
	defer stop()
	g.stack.WaitMessages(t, "security", "Processed", 3, time.Minute)
	if f := proxy.fired(); len(f) != 1 || f[0] != "mid-FETCH" {
		t.Fatalf("faults fired: %v; want one cut mid-FETCH", f)
	}
	if n := proxy.sessions(); n < 2 {
		t.Errorf("%d IMAP sessions; want a reconnection after the cut", n)
	}
	// Every body stored is whole: each one decrypts and hashes to what the
	// server holds now.
	ids, err := queryIDs(g.ctx, g.db.Reader(), `SELECT id FROM inbound`)
	if err != nil {
		t.Fatal(err)
	}
	onServer := map[string]bool{}
	for _, raw := range g.stack.Messages(t, "security", "Processed") {
		onServer[string(raw)] = true
	}
	for _, id := range ids {
		raw, err := rawMessage(g.ctx, g.db.Reader(), g.team, id)
		if err != nil {
			t.Fatal(err)
		}
		if !onServer[string(raw)] {
			t.Errorf("inbound %d (%d bytes) is not byte-identical to any message on the server", id, len(raw))
		}
	}
	mu.Lock()
	t.Logf("rows after each store: %v", stored)
	mu.Unlock()
	g.assertOnce(3)
}

// TestIMAPFaultServerRestart: the server goes away mid-IDLE and refuses
// connections for a while (a restart); the poller retries with backoff,
// and once the server is back the reports sent during the outage are
// handled once each.
func TestIMAPFaultServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	proxy := newFaultProxy(t, g.stack.IMAPAddr)
	cfg := g.cfg
	cfg.Address = proxy.addr
	rec, stop := g.startLoggedPoller(cfg, nil)
	defer stop()
	testwait.Within(t, time.Minute, "the poller watching the mailbox", func() bool { return len(rec.find("watching mailbox")) == 1 })

	proxy.down()
	g.send(g.inlineReport(1, "INLINE: sent while the server restarts"))
	g.send(g.inlineReport(2, "INLINE: also sent during the outage"))
	testwait.Within(t, time.Minute, "three failed reconnections", func() bool {
		n := 0
		for _, r := range rec.find("reconnecting") {
			if strings.Contains(r.attrs["err"], "dial") {
				n++
			}
		}
		return n >= 3
	})
	if n := g.inboundCount("1 = 1"); n != 0 {
		t.Errorf("%d messages stored while the server was down", n)
	}
	proxy.up()
	g.stack.WaitMessages(t, "security", "Processed", 2, time.Minute)
	if n := len(rec.find("watching mailbox")); n < 2 {
		t.Errorf("'watching mailbox' logged %d times; want it again after the restart", n)
	}
	g.assertOnce(2)
}

// TestIMAPFaultUIDValidity: the watched mailbox is deleted and recreated
// by another client (a new UIDVALIDITY) while two handled reports were not
// yet moved out of it. The poller notices, reads the whole mailbox again,
// recognises the two by their content and moves them without opening new
// cases; a third report in the new mailbox opens its case.
func TestIMAPFaultUIDValidity(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startGateway(t)
	cfg := g.cfg
	cfg.Mailbox = "Reports"
	other := g.adminClient()
	if err := other.Create(cfg.Mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		raw := g.inlineReport(20+i, fmt.Sprintf("INLINE: report %d before the new UIDVALIDITY", i))
		if _, err := appendMsg(other, cfg.Mailbox, raw); err != nil {
			t.Fatal(err)
		}
	}
	// First run: dies after processing, before the move.
	ctx, kill := context.WithCancel(g.ctx)
	p, err := NewPoller(cfg, g.db, g.team, g.proc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	p.hook = func(step string) error {
		if step == "processed" {
			once.Do(kill)
			return errors.New("crash")
		}
		return nil
	}
	p.Run(ctx)
	if n := g.inboundCount("state = 'processed' AND moved = 0"); n != 2 {
		t.Fatalf("%d processed and unmoved before the change, want 2", n)
	}
	oldUV := g.uidValidity(cfg.Mailbox)

	// Another client recreates the mailbox with the same two messages and
	// a new one.
	other.Logout().Wait()
	other = g.adminClient()
	sel, err := other.Select(cfg.Mailbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	var set imap.SeqSet
	set.AddRange(1, sel.NumMessages)
	sec := &imap.FetchItemBodySection{Peek: true}
	msgs, err := other.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	var newUV uint32
	for try := 0; ; try++ {
		if err := other.Delete(cfg.Mailbox).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := other.Create(cfg.Mailbox, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if newUV = g.uidValidity(cfg.Mailbox); newUV != oldUV || try == 5 {
			break
		}
		time.Sleep(time.Second) // UIDVALIDITY is time-based in Dovecot
	}
	if newUV == oldUV {
		t.Fatalf("UIDVALIDITY stayed %d after recreating the mailbox", oldUV)
	}
	for _, m := range msgs {
		if _, err := appendMsg(other, cfg.Mailbox, m.FindBodySection(sec)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := appendMsg(other, cfg.Mailbox, g.inlineReport(22, "INLINE: report after the new UIDVALIDITY")); err != nil {
		t.Fatal(err)
	}
	other.Logout().Wait()

	rec, stop := g.startLoggedPoller(cfg, nil)
	defer stop()
	g.stack.WaitMessages(t, "security", "Processed", 3, time.Minute)
	if len(rec.find("UIDVALIDITY changed")) != 1 {
		t.Errorf("the UIDVALIDITY change was not logged:\n%s", rec.all())
	}
	var uv uint32
	g.db.Reader().QueryRow(`SELECT uidvalidity FROM inbound_mailbox WHERE mailbox = ?`, cfg.Mailbox).Scan(&uv)
	if uv != newUV {
		t.Errorf("stored UIDVALIDITY %d, want the new %d", uv, newUV)
	}
	if n := len(g.stack.Messages(t, "security", cfg.Mailbox)); n != 0 {
		t.Errorf("%s still holds %d messages", cfg.Mailbox, n)
	}
	// Three reports, three cases; the two re-read ones kept their rows.
	if c := g.countCases(); c != 3 {
		t.Errorf("%d cases, want 3", c)
	}
	if n, moved := g.inboundCount("1 = 1"), g.inboundCount("state = 'processed' AND moved = 1 AND uidvalidity = "+fmt.Sprint(newUV)); n != 3 || moved != 3 {
		t.Errorf("inbound: %d rows, %d processed and moved under the new UIDVALIDITY; want 3", n, moved)
	}
	if n := len(g.stack.Messages(t, "security", "Processed")); n != 3 {
		t.Errorf("Processed holds %d messages, want 3", n)
	}
	// One acknowledgement per case, not one per reading.
	g.stopOutbox()
	if err := g.outbox.Flush(g.ctx); err != nil {
		t.Fatal(err)
	}
	var acks int
	g.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'ack'`).Scan(&acks)
	if acks != 3 {
		t.Errorf("%d acknowledgements queued, want 3", acks)
	}
}

// adminClient logs in to the security mailbox as another client would.
func (g *gateway) adminClient() *imapclient.Client {
	g.t.Helper()
	c, err := imapclient.DialInsecure(g.stack.IMAPAddr, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { c.Close() })
	if err := c.Login(g.stack.Addr("security"), g.stack.Password).Wait(); err != nil {
		g.t.Fatal(err)
	}
	return c
}

// uidValidity asks a fresh connection for the UIDVALIDITY of mailbox.
func (g *gateway) uidValidity(mailbox string) uint32 {
	g.t.Helper()
	c := g.adminClient()
	defer func() { c.Logout().Wait() }()
	d, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		g.t.Fatal(err)
	}
	return d.UIDValidity
}

func appendMsg(c *imapclient.Client, mailbox string, raw []byte) (*imap.AppendData, error) {
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := io.Copy(cmd, bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return cmd.Wait()
}
