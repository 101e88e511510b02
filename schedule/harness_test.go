package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// The fakes below keep everything they record in the test database, inside
// the caller's transaction, so a rolled-back job leaves no trace, exactly as
// with the real outbox and workflow.
const testSchema = `
CREATE TABLE t_mail (
	id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, notice TEXT NOT NULL, case_id INTEGER NOT NULL,
	subject TEXT NOT NULL, recipient TEXT NOT NULL, encrypt INTEGER NOT NULL, valid_through INTEGER NOT NULL,
	entity TEXT NOT NULL, UNIQUE (notice, recipient)) STRICT;
CREATE TABLE t_event (
	id INTEGER PRIMARY KEY, at INTEGER NOT NULL, case_id INTEGER NOT NULL, kind TEXT NOT NULL,
	actor TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL) STRICT;
`

type sentMail struct {
	At         time.Time
	Kind       string
	Notice     string
	Subject    string
	Recipients []string // sorted
	Encrypt    bool
	ValidUntil time.Time
	Entity     string
}

func (m sentMail) String() string {
	enc := "signed"
	if m.Encrypt {
		enc = "encrypted"
	}
	return fmt.Sprintf("%s %s %s to %s", m.At.UTC().Format("2006-01-02 15:04"), m.Kind, enc, strings.Join(m.Recipients, ","))
}

type fakeOutbox struct {
	clk  clock.Clock
	mu   sync.Mutex
	fail int // fail the next n Enqueue calls
}

// Withdraw implements Outbox: the fake sends at once, so nothing waits.
func (o *fakeOutbox) Withdraw(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, reason string) (int64, error) {
	return 0, nil
}

// Deadline implements Outbox: nothing waits in the fake.
func (o *fakeOutbox) Deadline(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, t0 time.Time) (int64, error) {
	return 0, nil
}

func (o *fakeOutbox) Enqueue(ctx context.Context, tx *sql.Tx, m distlist.Mail) ([]distlist.Skipped, error) {
	o.mu.Lock()
	if o.fail > 0 {
		o.fail--
		o.mu.Unlock()
		return nil, errors.New("injected outbox failure")
	}
	o.mu.Unlock()
	if (m.Kind == MailEmbargoNotice || m.Kind == MailPreReleaseNotice) && !m.Encrypt {
		return nil, distlist.ErrMustEncrypt
	}
	now := o.clk.Now()
	var sk []distlist.Skipped
	for _, r := range m.Recipients {
		if m.Encrypt {
			if r.Key == nil {
				sk = append(sk, distlist.Skipped{Recipient: r, Reason: "no key"})
				continue
			}
			until := m.ValidThrough
			if until.Before(now) {
				until = now
			}
			if err := r.Key.CheckThrough(now, until); err != nil {
				sk = append(sk, distlist.Skipped{Recipient: r, Reason: "key expired or expires before " + until.UTC().Format(time.RFC3339)})
				continue
			}
		}
		enc := 0
		if m.Encrypt {
			enc = 1
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO t_mail (at, kind, notice, case_id, subject, recipient, encrypt, valid_through, entity)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, store.Millis(now), m.Kind, m.NoticeID, m.CaseID, m.Content.Subject, r.Address, enc,
			store.Millis(m.ValidThrough), string(m.Content.Entity))
		if err != nil {
			return nil, err
		}
	}
	return sk, nil
}

type fakeCases struct {
	clk clock.Clock
	mu  sync.Mutex
	m   map[int64]*cases.Case
}

func (f *fakeCases) get(id int64) (*cases.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[id]
	if !ok {
		return nil, cases.ErrNotFound
	}
	cp := *c
	return &cp, nil
}

func (f *fakeCases) put(c *cases.Case) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *c
	f.m[c.ID] = &cp
}

func (f *fakeCases) GetTx(ctx context.Context, tx *sql.Tx, id int64) (*cases.Case, error) {
	return f.get(id)
}

func (f *fakeCases) List(ctx context.Context, opts cases.ListOptions) ([]*cases.Case, error) {
	f.mu.Lock()
	var ids []int64
	for id := range f.m {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []*cases.Case
	for _, id := range ids {
		c, _ := f.get(id)
		if opts.Open && c.Terminal() {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeCases) event(ctx context.Context, tx *sql.Tx, caseID int64, kind, actor, a, b string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO t_event (at, case_id, kind, actor, a, b) VALUES (?, ?, ?, ?, ?, ?)`,
		store.Millis(f.clk.Now()), caseID, kind, actor, a, b)
	return err
}

func (f *fakeCases) Audit(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, src string) error {
	return f.event(ctx, tx, caseID, "audit", actor, action, detail)
}

func (f *fakeCases) Alert(ctx context.Context, tx *sql.Tx, caseID int64, subject, text string) error {
	return f.event(ctx, tx, caseID, "alert", cases.ActorGateway, subject, text)
}

func (f *fakeCases) SetState(ctx context.Context, tx *sql.Tx, caseID int64, to cases.State, actor, detail string) error {
	f.mu.Lock()
	if c, ok := f.m[caseID]; ok {
		c.State = to
	}
	f.mu.Unlock()
	return f.event(ctx, tx, caseID, "state", actor, string(to), detail)
}

type fakeDirectory struct {
	team  []distlist.Member
	lists map[string]*distlist.List
}

func (d *fakeDirectory) Team(ctx context.Context) ([]distlist.Member, error) { return d.team, nil }

func (d *fakeDirectory) List(ctx context.Context, name string) (*distlist.List, error) {
	l, ok := d.lists[name]
	if !ok {
		return nil, fmt.Errorf("list %q: %w", name, distlist.ErrNotFound)
	}
	return l, nil
}

// env is a scheduler with fakes around it on a fake clock.
type env struct {
	t         testing.TB
	ctx       context.Context
	db        *store.DB
	clk       *clock.Fake
	out       *fakeOutbox
	cases     *fakeCases
	dir       *fakeDirectory
	s         *Scheduler
	artifacts string
	lead      distlist.Member
	// wholePreset keeps the policy's mail to audiences beyond the
	// core timeline (the pre-announcement, the announcement to the
	// embargo list) and the reporter's consent, which the case workflow
	// asks for; the tests of other steps turn them off, so that their
	// mail lists show only those steps.
	wholePreset bool
	// ob, when set, is the scheduler's outbox instead of out (which it
	// may wrap).
	ob Outbox
}

var keyCache sync.Map

// testKey returns a key made at created with the given lifetime (0: none).
func testKey(t testing.TB, name, email string, created time.Time, life time.Duration) *crypto.Key {
	t.Helper()
	id := fmt.Sprint(email, created.Unix(), life)
	if k, ok := keyCache.Load(id); ok {
		return k.(*crypto.Key)
	}
	k, err := crypto.GenerateKey(name, email, crypto.GenerateOptions{Created: created, Lifetime: life})
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public()
	keyCache.Store(id, pub)
	return pub
}

func newEnv(t testing.TB, now time.Time, policy string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "secgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Writer().ExecContext(ctx, testSchema); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(now)
	created := now.Add(-365 * Day)
	lead := distlist.Member{Name: "Alice Lead", Address: "alice@team.example", Role: distlist.RoleLead, TZ: "Europe/Berlin",
		Key: testKey(t, "Alice Lead", "alice@team.example", created, 0)}
	lead.Fingerprint = lead.Key.Fingerprint()
	bob := distlist.Member{Name: "Bob Member", Address: "bob@team.example", Role: distlist.RoleMember,
		Key: testKey(t, "Bob Member", "bob@team.example", created, 0)}
	bob.Fingerprint = bob.Key.Fingerprint()
	dir := &fakeDirectory{
		team: []distlist.Member{lead, bob},
		lists: map[string]*distlist.List{
			"embargo": {Name: "embargo", Kind: distlist.KindEmbargo, Encrypt: true, Recipients: []distlist.Recipient{
				{Name: "Vendor One", Address: "sec@vendor1.example", Key: testKey(t, "Vendor One", "sec@vendor1.example", created, 0)},
				{Name: "Vendor Two", Address: "psirt@vendor2.example", Key: testKey(t, "Vendor Two", "psirt@vendor2.example", created, 0)},
			}},
			"announce": {Name: "announce", Kind: distlist.KindPublic, Recipients: []distlist.Recipient{
				{Address: "security-announce@lists.example"}, {Address: "dev@lists.example"},
			}},
		},
	}
	e := &env{t: t, ctx: ctx, db: db, clk: clk, dir: dir, lead: lead,
		out:       &fakeOutbox{clk: clk},
		cases:     &fakeCases{clk: clk, m: map[int64]*cases.Case{}},
		artifacts: t.TempDir(),
	}
	e.s = e.newScheduler(policy)
	return e
}

// newScheduler makes the scheduler of policy; each change then edits its
// configuration.
func (e *env) newScheduler(policy string, changes ...func(*Config)) *Scheduler {
	e.t.Helper()
	set, err := templates.Load("")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Policy = policy
	if !e.wholePreset {
		off := false
		cfg.Policies = map[string]Override{policy: {PreAnnounce: &off, AnnounceToEmbargo: &off, ReporterConsent: &off}}
	}
	cfg.ArtifactsDir = e.artifacts
	cfg.Artifacts = testArtifacts
	for _, change := range changes {
		change(&cfg)
	}
	var ob Outbox = e.out
	if e.ob != nil {
		ob = e.ob
	}
	s, err := New(Options{
		DB: e.db, Directory: e.dir, Outbox: ob, Cases: e.cases, Templates: set,
		Project:     templates.Project{Name: "Example", TeamAddress: "security@example.org", AnnounceList: "security-announce@lists.example"},
		TeamAddress: "Example Security <security@example.org>",
		Clock:       e.clk, Config: cfg,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// newCase stores a ready, confirmed case.
func (e *env) newCase(id int64, policy string, received time.Time) *cases.Case {
	c := &cases.Case{
		ID: id, Ref: fmt.Sprintf("SEC-2026-%04d", id), State: cases.StateCVERequested, Policy: policy,
		CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CVSSScore: 9.8, Severity: "CRITICAL",
		CVE: fmt.Sprintf("CVE-2026-%05d", 12340+id), Advisory: fmt.Sprintf("EXSA-2026-%03d", id),
		Affected: "< 1.2.3", Fixed: "1.2.3", Credit: "Rita Reporter", CreditConsent: cases.ConsentYes,
		Impact: "An unauthenticated attacker can write files anywhere.", ReporterAddr: "rita@example.net",
		Lead: e.lead.Fingerprint, Received: received,
	}
	e.cases.put(c)
	return c
}

// tx runs fn in a transaction and fails the test on error.
func (e *env) tx(fn func(tx *sql.Tx) error) error {
	return e.db.Tx(e.ctx, fn)
}

func (e *env) disclose(c *cases.Case, t0 time.Time, force string) (string, error) {
	var plan string
	err := e.tx(func(tx *sql.Tx) error {
		var err error
		plan, err = e.s.Disclose(e.ctx, tx, c, t0, cases.DiscloseOptions{Force: force}, e.lead.Fingerprint)
		return err
	})
	if err == nil {
		e.cases.put(c)
	}
	return plan, err
}

// advance runs the timeline up to t: the clock steps to each due job in
// turn, as the Run loop would.
func (e *env) advance(t time.Time) {
	e.t.Helper()
	for {
		next, ok, err := nextDue(e.ctx, e.db.Reader())
		if err != nil {
			e.t.Fatal(err)
		}
		if !ok || next.After(t) {
			break
		}
		e.clk.Set(next)
		if _, err := e.s.RunDue(e.ctx); err != nil {
			e.t.Fatal(err)
		}
	}
	e.clk.Set(t)
	if _, err := e.s.RunDue(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// mails returns what the outbox got, grouped per notice, in order.
func (e *env) mails() []sentMail {
	e.t.Helper()
	rows, err := e.db.Reader().QueryContext(e.ctx, `SELECT at, kind, notice, subject, recipient, encrypt, valid_through, entity FROM t_mail ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []sentMail
	idx := map[string]int{}
	for rows.Next() {
		var at, vt int64
		var m sentMail
		var rcpt string
		if err := rows.Scan(&at, &m.Kind, &m.Notice, &m.Subject, &rcpt, &m.Encrypt, &vt, &m.Entity); err != nil {
			e.t.Fatal(err)
		}
		if i, ok := idx[m.Notice]; ok {
			out[i].Recipients = append(out[i].Recipients, rcpt)
			sort.Strings(out[i].Recipients)
			continue
		}
		m.At, m.ValidUntil, m.Recipients = store.Time(at), store.Time(vt), []string{rcpt}
		idx[m.Notice] = len(out)
		out = append(out, m)
	}
	return out
}

type event struct{ Kind, Actor, A, B string }

func (e *env) events(caseID int64) []event {
	e.t.Helper()
	rows, err := e.db.Reader().QueryContext(e.ctx, `SELECT kind, actor, a, b FROM t_event WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var ev event
		if err := rows.Scan(&ev.Kind, &ev.Actor, &ev.A, &ev.B); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// checkMails compares the outbox with the expected lines (sentMail.String).
func (e *env) checkMails(want ...string) []sentMail {
	e.t.Helper()
	got := e.mails()
	var lines []string
	for _, m := range got {
		lines = append(lines, m.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		e.t.Errorf("mails:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	return got
}

const (
	vendors = "psirt@vendor2.example,sec@vendor1.example"
	public  = "dev@lists.example,security-announce@lists.example"
)
