package intake

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

const prefixTeam = "security@example.test"

// prefixEnv is the real processor and workflow of a project whose case
// references carry its own prefix, on a database of its own.
type prefixEnv struct {
	t     *testing.T
	ctx   context.Context
	path  string
	db    *store.DB
	clock *clock.Fake
	team  *crypto.Key
	wf    *cases.Workflow
	proc  *Processor
	uid   uint32
}

func newPrefixEnv(t *testing.T) *prefixEnv {
	t.Helper()
	team, err := crypto.GenerateKey("Security Team", prefixTeam, crypto.GenerateOptions{Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	return &prefixEnv{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "gw.db"),
		clock: clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)), team: team}
}

// start (re)opens the database and builds the gateway's parts with prefix
// as the project's case prefix ("" for the default).
func (e *prefixEnv) start(prefix string) {
	e.t.Helper()
	if e.db != nil {
		e.db.Close()
	}
	db, err := store.Open(e.ctx, e.path)
	must(e.t, err)
	e.db = db
	e.t.Cleanup(func() { db.Close() })
	dir := distlist.NewDirectory(db, e.clock, nil)
	if team, err := dir.Team(e.ctx); err == nil && len(team) == 0 {
		pub, err := e.team.Public().ArmorPublic()
		must(e.t, err)
		must(e.t, db.Tx(e.ctx, func(tx *sql.Tx) error {
			_, err := dir.AddMember(e.ctx, tx, distlist.MemberSpec{Name: "Alice", Address: "alice@example.test", Role: distlist.RoleLead,
				Rota: 1, Key: []byte(pub), AllowMismatch: true})
			return err
		}))
	}
	from := "Security Team <" + prefixTeam + ">"
	ob, err := distlist.NewOutbox(e.ctx, distlist.OutboxOptions{DB: db, Directory: dir, TeamKey: e.team, Clock: e.clock, Config: distlist.Config{
		From: from, SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone},
	}})
	must(e.t, err)
	set, err := templates.Load("")
	must(e.t, err)
	project := templates.Project{Name: "Example", TeamAddress: prefixTeam, KeyFingerprint: e.team.Fingerprint(), CasePrefix: prefix}
	e.wf, err = cases.New(cases.Options{DB: db, Directory: dir, Outbox: ob, Templates: set, TeamKey: e.team,
		TeamAddress: from, Project: project, Clock: e.clock})
	must(e.t, err)
	cfg := Config{Address: "127.0.0.1:143", User: prefixTeam, TLS: TLSPlainLoopback, RateLimit: 1000, NewCasesPerDay: 1000}
	e.proc, err = NewStackProcessor(StackOptions{Config: cfg, DB: db, TeamKey: e.team, Directory: dir, Outbox: ob,
		Workflow: e.wf, Templates: set, Project: project, Clock: e.clock})
	must(e.t, err)
}

// mail processes a clear-text mail from the reporter with subject, which
// replies to nothing (no In-Reply-To, no References).
func (e *prefixEnv) mail(subject, body string) *Inbound {
	e.t.Helper()
	e.uid++
	e.clock.Advance(time.Minute)
	raw := []byte(strings.ReplaceAll(fmt.Sprintf("From: Rita Reporter <rita@reporter.example>\nTo: %s\nSubject: %s\nDate: %s\n"+
		"Message-ID: <m%d@reporter.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n",
		prefixTeam, subject, e.clock.Now().Format(time.RFC1123Z), e.uid, body), "\n", "\r\n"))
	ids, err := storeBatch(e.ctx, e.db, e.team, "INBOX", 1, []fetched{{uid: e.uid, size: int64(len(raw)), raw: raw}}, e.clock.Now())
	must(e.t, err)
	must(e.t, e.proc.Process(e.ctx, ids[0]))
	in, err := getInbound(e.ctx, e.db.Reader(), ids[0])
	must(e.t, err)
	return in
}

// report opens a case from a new report and returns it.
func (e *prefixEnv) report(subject string) *cases.Case {
	e.t.Helper()
	in := e.mail(subject, "The webhook leaks other tenants' secrets.")
	if in.Class != ClassReport || in.CaseID == 0 {
		e.t.Fatalf("report %q ended %s/%s %q", subject, in.State, in.Class, in.Reason)
	}
	c, err := e.wf.GetByID(e.ctx, in.CaseID)
	must(e.t, err)
	return c
}

// followUp checks that a reply tagged subject reaches the case c by its tag.
func (e *prefixEnv) followUp(subject string, c *cases.Case) {
	e.t.Helper()
	in := e.mail(subject, "More details.")
	if in.Class != ClassFollowUp || in.CaseID != c.ID || !strings.Contains(in.Reason, "subject tag ["+c.Ref+"]") {
		e.t.Errorf("reply %q: %s/%s case %d %q; want a follow-up of %s (case %d) by its subject tag",
			subject, in.State, in.Class, in.CaseID, in.Reason, c.Ref, c.ID)
	}
}

// TestFollowUpCasePrefix: at a gateway whose project's prefix is KN, a
// report opens KN-2026-0001 and a reply tagged [KN-2026-0001] reaches it
// (after an ID of the same shape too); a reply tagged with another
// project's reference or the default prefix's reaches no case of this
// project and is a new report.
func TestFollowUpCasePrefix(t *testing.T) {
	e := newPrefixEnv(t)
	e.start("KN")
	c := e.report("Webhook leaks tenant secrets")
	if c.Ref != "KN-2026-0001" {
		t.Fatalf("first case %s, want KN-2026-0001", c.Ref)
	}
	e.followUp("Re: [KN-2026-0001] Your report was received", c)
	e.followUp("[CVE-2026-12345] Re: [KN-2026-0001] Your report was received", c)
	for _, subject := range []string{"Re: [KATA-2026-0001] Your report was received", "Re: [SEC-2026-0001] Your report was received"} {
		in := e.mail(subject, "Something else.")
		if in.Class != ClassReport || in.CaseID == c.ID || strings.Contains(in.Reason, "subject tag") {
			t.Errorf("reply %q: %s/%s case %d %q; want a new report, not %s", subject, in.State, in.Class, in.CaseID, in.Reason, c.Ref)
		}
	}
	if msgs, err := e.wf.Messages(e.ctx, c.ID); err != nil || len(msgs) != 3 {
		t.Errorf("%s holds %d messages (%v), want the report and its 2 follow-ups", c.Ref, len(msgs), err)
	}
}

// TestFollowUpCasePrefixUpgrade: a gateway whose project changes its
// prefix from the default to KN keeps routing replies tagged with the SEC
// references of its older cases to them, and tags its new cases KN from
// 0001.
func TestFollowUpCasePrefixUpgrade(t *testing.T) {
	e := newPrefixEnv(t)
	e.start("")
	sec := e.report("Webhook leaks tenant secrets")
	if sec.Ref != "SEC-2026-0001" {
		t.Fatalf("first case %s, want SEC-2026-0001", sec.Ref)
	}
	e.start("KN")
	kn := e.report("Another report")
	if kn.Ref != "KN-2026-0001" {
		t.Fatalf("first case under KN %s, want KN-2026-0001", kn.Ref)
	}
	e.followUp("Re: [SEC-2026-0001] Your report was received", sec)
	e.followUp("Re: [KN-2026-0001] Your report was received", kn)
}

// TestCaseTags: every reference of any project's shape tagged in a
// subject, in order, at most four; the lookup decides which is a case.
func TestCaseTags(t *testing.T) {
	for _, tt := range []struct {
		subject string
		want    []string
	}{
		{"Re: [SEC-2026-0001] x", []string{"SEC-2026-0001"}},
		{"Re: [KN-2026-0001] x", []string{"KN-2026-0001"}},
		{"Re: [KATA-2026-12345] x", []string{"KATA-2026-12345"}},
		{"[CVE-2026-12345] Re: [KN-2026-0002]", []string{"CVE-2026-12345", "KN-2026-0002"}},
		{"[A-2026-0001] [KN-2026-001] [kn-2026-0001] [KN-26-0001] KN-2026-0001 [ABCDEFGHIJK-2026-0001]", nil},
		{"[K8S-2026-0001]", []string{"K8S-2026-0001"}},
		{"[A1-2026-0001][B2-2026-0001][C3-2026-0001][D4-2026-0001][E5-2026-0001]", []string{"A1-2026-0001", "B2-2026-0001", "C3-2026-0001", "D4-2026-0001"}},
	} {
		if got := caseTags(tt.subject); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("caseTags(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}
