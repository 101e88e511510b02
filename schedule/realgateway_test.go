package schedule

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/internal/mailstack"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// realGateway is the team's side of a real-stack test: the team's and the
// lead's keys (the mailboxes security and lead of stack), and a database
// with the fakes' tables and its directory, which the test fills.
type realGateway struct {
	stack            *mailstack.Stack
	team, lead       *crypto.Key
	teamPub, leadPub string
	db               *store.DB
	dir              *distlist.Directory
}

func newRealGateway(t *testing.T, stack *mailstack.Stack) *realGateway {
	t.Helper()
	g := &realGateway{stack: stack}
	made := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	var err error
	if g.team, err = crypto.GenerateKey("Security Team", stack.Addr("security"), crypto.GenerateOptions{Created: made}); err != nil {
		t.Fatal(err)
	}
	if g.lead, err = crypto.GenerateKey("Alice Lead", stack.Addr("lead"), crypto.GenerateOptions{Created: made}); err != nil {
		t.Fatal(err)
	}
	g.teamPub, _ = g.team.ArmorPublic()
	g.leadPub, _ = g.lead.ArmorPublic()
	if g.db, err = store.Open(context.Background(), filepath.Join(t.TempDir(), "gw.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.db.Close() })
	if _, err := g.db.Writer().Exec(testSchema); err != nil {
		t.Fatal(err)
	}
	g.dir = distlist.NewDirectory(g.db, clock.Real{}, nil)
	return g
}

// start returns the scheduler of cfg on a simulated clock that starts
// after every key was made, sending through a real outbox on the real
// clock, and flush, which sends what the outbox holds.
func (g *realGateway) start(t *testing.T, cfg Config) (e *env, flush func()) {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Now().UTC().Add(time.Minute).Truncate(time.Minute))
	from := "Security Team <" + g.stack.Addr("security") + ">"
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: g.db, Directory: g.dir, TeamKey: g.team, Clock: clock.Real{}, Config: distlist.Config{
		From: from,
		SMTP: distlist.SMTPConfig{Addr: g.stack.SubmissionAddr, TLS: distlist.TLSNone, User: g.stack.Addr("security"), Password: g.stack.Password, Parallel: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCases{clk: clk, m: map[int64]*cases.Case{}}
	s, err := New(Options{DB: g.db, Directory: g.dir, Outbox: ob, Cases: fc, Templates: set, Clock: clk,
		Project: templates.Project{Name: "Example", TeamAddress: g.stack.Addr("security")}, TeamAddress: from, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	e = &env{t: t, ctx: ctx, db: g.db, clk: clk, cases: fc, s: s, lead: distlist.Member{Fingerprint: g.lead.Fingerprint()}}
	return e, func() {
		t.Helper()
		if err := ob.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
