package intake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/gpgtest"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// sharedProject is one project of a gateway whose projects share one
// mailbox: its own database, team key, directory, outbox, workflow and
// Processor, on the stack of the others.
type sharedProject struct {
	name     string
	addr     string // its team address, security+NAME@
	db       *store.DB
	team     *crypto.Key
	workflow *cases.Workflow
	outbox   *distlist.Outbox
	proc     *Processor
	member   string // its one member's user
	memberGP *gpgtest.GPG

	stopOutbox func()
}

// sharedMailbox is one Dovecot mailbox, security@, that receives (by
// plus-addressing, and through the alias security-a@) the mail of two
// projects, a (member alice) and b (member bob, the default project).
type sharedMailbox struct {
	t        testing.TB
	ctx      context.Context
	stack    *mailstack.Stack
	cfg      Config
	projects map[string]*sharedProject
	reporter *gpgtest.GPG
	repFpr   string
	repAddr  string
}

func startSharedMailbox(t testing.TB) *sharedMailbox {
	t.Helper()
	g := &sharedMailbox{t: t, ctx: context.Background(), projects: map[string]*sharedProject{}, repAddr: "reporter@outside.example"}
	g.stack = mailstack.Start(t, mailstack.Options{Users: []string{"security", "alice", "bob"},
		Aliases: map[string]string{"security-a": "security+a"}})
	g.reporter = gpgtest.New(t)
	g.repFpr = g.reporter.GenKey("Reporter <"+g.repAddr+">", "ed25519")
	g.cfg = Config{
		Address: g.stack.IMAPAddr, User: g.stack.Addr("security"), PasswordFile: g.stack.WritePasswordFile(t),
		TLS: TLSPlainLoopback, BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, RateLimit: 1000, NewCasesPerDay: 1000,
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for name, member := range map[string]string{"a": "alice", "b": "bob"} {
		g.projects[name] = g.startProject(name, member, set)
	}
	return g
}

func (g *sharedMailbox) startProject(name, member string, set *templates.Set) *sharedProject {
	t, ctx := g.t, g.ctx
	p := &sharedProject{name: name, addr: g.stack.Addr("security+" + name), member: member}
	var err error
	p.team, err = crypto.GenerateKey("Project "+strings.ToUpper(name)+" Security", p.addr, crypto.GenerateOptions{Created: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := p.team.ArmorPublic()
	g.reporter.Import([]byte(pub))
	p.db, err = store.Open(ctx, filepath.Join(t.TempDir(), name+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.db.Close() })
	dir := distlist.NewDirectory(p.db, clock.Real{}, nil)
	p.memberGP = gpgtest.New(t)
	maddr := g.stack.Addr(member)
	fpr := p.memberGP.GenKey(fmt.Sprintf("%s <%s>", member, maddr), "ed25519")
	p.memberGP.Import([]byte(pub))
	err = p.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := dir.AddMember(ctx, tx, distlist.MemberSpec{Name: member, Address: maddr, Role: distlist.RoleLead, Rota: 1, Key: p.memberGP.Export(fpr)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	from := "Project " + strings.ToUpper(name) + " Security <" + p.addr + ">"
	p.outbox, err = distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: p.db, Directory: dir, TeamKey: p.team, Clock: clock.Real{}, Config: distlist.Config{
		From: from,
		SMTP: distlist.SMTPConfig{Addr: g.stack.SubmissionAddr, TLS: distlist.TLSNone, User: g.stack.Addr("security"), Password: g.stack.Password, Parallel: 4},
	}})
	if err != nil {
		t.Fatal(err)
	}
	project := templates.Project{Name: "Project " + strings.ToUpper(name), TeamAddress: p.addr, KeyFingerprint: p.team.Fingerprint()}
	p.workflow, err = cases.New(cases.Options{DB: p.db, Directory: dir, Outbox: p.outbox, Templates: set, TeamKey: p.team,
		TeamAddress: from, Project: project, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	p.proc, err = NewStackProcessor(StackOptions{Config: g.cfg, DB: p.db, TeamKey: p.team, Directory: dir, Outbox: p.outbox,
		Workflow: p.workflow, Templates: set, Project: project})
	if err != nil {
		t.Fatal(err)
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.outbox.Run(octx); close(done) }()
	var once sync.Once
	p.stopOutbox = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(p.stopOutbox)
	return p
}

// routes is the wiring cmd/secgate does for a shared mailbox.
func (g *sharedMailbox) routes() Routes {
	var rs Routes
	for _, name := range []string{"a", "b"} {
		p := g.projects[name]
		addrs := []string{p.addr}
		if name == "a" {
			addrs = append(addrs, g.stack.Addr("security-a"))
		}
		rs.Routes = append(rs.Routes, Route{Project: name, Addresses: addrs, DB: p.db, AtRest: p.team, Handler: p.proc})
	}
	rs.Default = "b"
	return rs
}

func (g *sharedMailbox) runPoller(ctx context.Context, hook func(string) error) <-chan struct{} {
	p, err := NewRoutedPoller(g.cfg, g.routes(), nil, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	p.hook = hook
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return done
}

// report sends a report through the MX: to rcpts (local parts), with the
// header's To naming to; encrypted to encryptTo's team key unless nil.
func (g *sharedMailbox) report(id string, rcpts []string, to string, encryptTo *sharedProject, text string) {
	g.t.Helper()
	body := text + "\n"
	if encryptTo != nil {
		body = string(g.reporter.Encrypt([]byte(text+"\n"), encryptTo.team.Fingerprint(), g.repFpr))
	}
	raw := gpgtest.CRLF([]byte(fmt.Sprintf("From: Reporter <%s>\nTo: %s\nSubject: report %s\nDate: %s\nMessage-ID: <%s@outside.example>\n"+
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s", g.repAddr, to, id, time.Now().Format(time.RFC1123Z), id, body)))
	var addrs []string
	for _, r := range rcpts {
		addrs = append(addrs, g.stack.Addr(r))
	}
	g.stack.Send(g.t, g.repAddr, addrs, raw)
}

// row reads what project p's database holds of the message id.
func (p *sharedProject) rows(t testing.TB, id string) []inboundRow {
	t.Helper()
	rs, err := p.db.Reader().Query(`SELECT state, class, reason, coalesce(case_id, 0) FROM inbound WHERE message_id = ?`, id+"@outside.example")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []inboundRow
	for rs.Next() {
		var r inboundRow
		if err := rs.Scan(&r.state, &r.class, &r.reason, &r.caseID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (p *sharedProject) cases(t testing.TB) []*cases.Case {
	t.Helper()
	list, err := p.workflow.List(context.Background(), cases.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestRealStackSharedMailbox: one Dovecot mailbox receives, through
// Postfix, the mail of two projects (plus-addressing, and an alias to one
// of them); Dovecot's Delivered-To routes each report to its project's
// database, where it opens a case, acknowledged from that project's
// address and copied to that project's member alone. A report sent to
// both projects' addresses arrives twice (a copy per recipient) and each
// copy is held in its project's quarantine; one to an address no project
// owns is held in the default project's; neither opens a case or is
// answered. A report whose envelope names a and whose To names b goes to a,
// the reason saying so.
func TestRealStackSharedMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("real mail stack")
	}
	g := startSharedMailbox(t)
	a, b := g.projects["a"], g.projects["b"]
	ctx, cancel := context.WithCancel(g.ctx)
	done := g.runPoller(ctx, nil)
	defer func() { cancel(); <-done }()

	g.report("enc-a", []string{"security+a"}, a.addr, a, "A1: heap overflow, encrypted to project a's key")
	g.report("alias-a", []string{"security-a"}, g.stack.Addr("security-a"), nil, "A2: sent to project a's alias")
	g.report("clear-b", []string{"security+b"}, b.addr, nil, "B1: path traversal, in clear")
	g.report("both", []string{"security+a", "security+b"}, a.addr+", "+b.addr, nil, "BOTH: one library, two projects")
	g.report("nobody", []string{"security+c"}, g.stack.Addr("security+c"), nil, "NOBODY: to an address no project owns")
	g.report("env-a-to-b", []string{"security+a"}, b.addr, nil, "A3: delivered for a, the header names b")

	g.stack.WaitMessages(t, "security", "Processed", 4, 60*time.Second)
	g.stack.WaitMessages(t, "security", "Quarantine", 3, 60*time.Second)
	if n := len(g.stack.Messages(t, "security", "INBOX")); n != 0 {
		t.Errorf("INBOX still holds %d messages", n)
	}

	for _, w := range []struct {
		p, id string
	}{{"a", "enc-a"}, {"a", "alias-a"}, {"b", "clear-b"}, {"a", "env-a-to-b"}} {
		p, other := g.projects[w.p], g.projects[map[string]string{"a": "b", "b": "a"}[w.p]]
		rows := p.rows(t, w.id)
		if len(rows) != 1 || rows[0].state != StateProcessed || rows[0].class != ClassReport || rows[0].caseID == 0 {
			t.Errorf("%s in project %s: %+v, want one report with a case", w.id, w.p, rows)
		}
		if len(other.rows(t, w.id)) != 0 {
			t.Errorf("%s is also in project %s's database", w.id, other.name)
		}
	}
	if r := a.rows(t, "enc-a"); len(r) == 1 && !strings.Contains(r[0].reason, "encrypted") {
		t.Errorf("enc-a: %q; want it opened with project a's key", r[0].reason)
	}
	if r := a.rows(t, "env-a-to-b"); len(r) == 1 && !strings.Contains(r[0].reason,
		"route: delivered for security+a@example.test (Delivered-To); the header named To security+b@example.test (project b), not this project's address") {
		t.Errorf("env-a-to-b: reason %q", r[0].reason)
	}
	for _, p := range []*sharedProject{a, b} {
		rows := p.rows(t, "both")
		if len(rows) != 1 || rows[0].state != StateQuarantined || rows[0].class != ClassRoute || rows[0].caseID != 0 ||
			!strings.Contains(rows[0].reason, "sent to several projects at once: delivered for "+p.addr+" (Delivered-To)") {
			t.Errorf("both, project %s's copy: %+v", p.name, rows)
		}
	}
	if rows := b.rows(t, "nobody"); len(rows) != 1 || rows[0].state != StateQuarantined || rows[0].class != ClassRoute ||
		!strings.Contains(rows[0].reason, "no project owns Delivered-To security+c@example.test, To security+c@example.test; held in b's quarantine") {
		t.Errorf("nobody: %+v", rows)
	}
	if len(a.rows(t, "nobody")) != 0 {
		t.Error("nobody is in project a's database")
	}
	if n := len(a.cases(t)); n != 3 {
		t.Errorf("project a has %d cases, want 3", n)
	}
	if n := len(b.cases(t)); n != 1 {
		t.Errorf("project b has %d cases, want 1", n)
	}

	// Each case is acknowledged from its project's address, and nothing
	// held is answered; each member gets their own project's reports.
	acks := g.stack.WaitMessages(t, "sink", "INBOX", 4, 60*time.Second)
	from := map[string]int{}
	for _, raw := range acks {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := mail.ParseAddress(m.Header.Get("From"))
		from[addr.Address]++
	}
	if from[a.addr] != 3 || from[b.addr] != 1 {
		t.Errorf("acknowledgements from %v, want 3 from %s and 1 from %s", from, a.addr, b.addr)
	}
	for _, p := range []*sharedProject{a, b} {
		want := map[string]int{"a": 3, "b": 1}[p.name]
		copies := g.stack.WaitMessages(t, p.member, "INBOX", want, 60*time.Second)
		for _, raw := range copies {
			text := string(openMail(t, p.memberGP, raw, p.team.Fingerprint()))
			if strings.Contains(text, "BOTH") || strings.Contains(text, "NOBODY") {
				t.Errorf("%s got a copy of a held report", p.member)
			}
			if p.name == "b" && !strings.Contains(text, "B1: path traversal") {
				t.Errorf("%s got a copy of another project's report", p.member)
			}
		}
	}
	// Let the outboxes finish, then count: nothing more was sent.
	for _, p := range []*sharedProject{a, b} {
		p.stopOutbox()
		if err := p.outbox.Flush(g.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(g.stack.Messages(t, "sink", "INBOX")); n != 4 {
		t.Errorf("the reporter holds %d answers, want the 4 acknowledgements", n)
	}
	if n := len(g.stack.Messages(t, "alice", "INBOX")) + len(g.stack.Messages(t, "bob", "INBOX")); n != 4 {
		t.Errorf("the members hold %d copies, want 4", n)
	}
}

// TestRealStackSharedMailboxRestart: the gateway dies mid-batch (after
// storing a batch's mail of one project but not the other's, or after
// processing it but before moving it) and starts again: every report opens
// exactly one case, in its own project, and is acknowledged once.
func TestRealStackSharedMailboxRestart(t *testing.T) {
	for _, crashAt := range []string{"stored-in-project", "processed", "moved-on-server"} {
		t.Run(crashAt, func(t *testing.T) {
			if testing.Short() {
				t.Skip("real mail stack")
			}
			g := startSharedMailbox(t)
			g.cfg.FetchBatch = 3
			const n = 8
			for i := range n {
				p := g.projects[[]string{"a", "b"}[i%2]]
				g.report(fmt.Sprintf("r%d", i), []string{"security+" + p.name}, p.addr, p, fmt.Sprintf("report number %d", i))
			}
			g.report("nobody", []string{"security+c"}, g.stack.Addr("security+c"), nil, "NOBODY")
			g.stack.WaitMessages(t, "security", "INBOX", n+1, 60*time.Second)

			ctx, kill := context.WithCancel(g.ctx)
			var once sync.Once
			crashed := false
			<-g.runPoller(ctx, func(step string) error {
				if step == crashAt {
					once.Do(func() { crashed = true; kill() })
					return fmt.Errorf("crash")
				}
				return nil
			})
			if !crashed {
				t.Fatalf("the poller never reached %s", crashAt)
			}
			ctx2, cancel := context.WithCancel(g.ctx)
			done := g.runPoller(ctx2, nil)
			defer func() { cancel(); <-done }()
			g.stack.WaitMessages(t, "security", "Processed", n, 60*time.Second)
			g.stack.WaitMessages(t, "security", "Quarantine", 1, 60*time.Second)

			for i := range n {
				p := g.projects[[]string{"a", "b"}[i%2]]
				other := g.projects[[]string{"b", "a"}[i%2]]
				id := fmt.Sprintf("r%d", i)
				rows := p.rows(t, id)
				if len(rows) != 1 || rows[0].class != ClassReport || rows[0].caseID == 0 || len(other.rows(t, id)) != 0 {
					t.Errorf("%s: %+v in %s, %d rows in %s", id, rows, p.name, len(other.rows(t, id)), other.name)
				}
			}
			for _, p := range g.projects {
				if c := len(p.cases(t)); c != n/2 {
					t.Errorf("project %s: %d cases, want %d", p.name, c, n/2)
				}
			}
			if rows := g.projects["b"].rows(t, "nobody"); len(rows) != 1 || rows[0].class != ClassRoute {
				t.Errorf("nobody: %+v", rows)
			}
			g.stack.WaitMessages(t, "sink", "INBOX", n, 60*time.Second)
			for _, p := range g.projects {
				p.stopOutbox()
				if err := p.outbox.Flush(g.ctx); err != nil {
					t.Fatal(err)
				}
			}
			if acks := g.stack.Messages(t, "sink", "INBOX"); len(acks) != n {
				t.Errorf("the reporter holds %d acknowledgements, want %d", len(acks), n)
			}
			if got := len(g.stack.Messages(t, "security", "Processed")); got != n {
				t.Errorf("Processed holds %d, want %d", got, n)
			}
		})
	}
}
