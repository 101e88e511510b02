package cases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

const teamAddr = "security@example.org"

var (
	keyMu   sync.Mutex
	keyMemo = map[string]*crypto.Key{}
)

// testKey returns a private x25519 key for email, made once per test binary.
// lifetime > 0 makes a key created 30 days before t0 with that lifetime.
func testKey(t testing.TB, email string, lifetime time.Duration) *crypto.Key {
	t.Helper()
	id := fmt.Sprintf("%s/%v", email, lifetime)
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyMemo[id]; ok {
		return k
	}
	k, err := crypto.GenerateKey(strings.Split(email, "@")[0], email, crypto.GenerateOptions{
		Created: t0.Add(-30 * 24 * time.Hour), Lifetime: lifetime})
	if err != nil {
		t.Fatalf("generate key %s: %v", email, err)
	}
	keyMemo[id] = k
	return k
}

func armorPub(t testing.TB, k *crypto.Key) string {
	t.Helper()
	a, err := k.Public().ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fakeScheduler records calls; err, when set, makes every call fail.
type fakeScheduler struct {
	mu     sync.Mutex
	calls  []string
	kicks  int            // Kick calls: after each committed command mail
	drafts []DraftOptions // what each Draft call got
	err    error
	// next is the pre-release notice of the last /disclose, which
	// NextStep names; onDisclose, when set, runs inside Disclose (a step
	// the real scheduler carries out at once).
	next       time.Time
	onDisclose func(ctx context.Context, tx *sql.Tx, c *Case) error
}

func (f *fakeScheduler) Disclose(ctx context.Context, tx *sql.Tx, c *Case, t0 time.Time, o DiscloseOptions, actor string) (string, error) {
	f.mu.Lock()
	if f.err != nil {
		f.mu.Unlock()
		return "", f.err
	}
	call := fmt.Sprintf("disclose %s %s %q", c.Ref, t0.Format(time.RFC3339), o.Force)
	if o.NoEmbargo {
		call += " no-embargo"
	}
	f.calls = append(f.calls, call)
	f.next = t0.Add(-24 * time.Hour)
	step := f.onDisclose
	f.mu.Unlock()
	if step != nil {
		if err := step(ctx, tx, c); err != nil {
			return "", err
		}
	}
	return "embargo notice at ...", nil
}

// NextStep names the pre-release notice of the last /disclose.
func (f *fakeScheduler) NextStep(ctx context.Context, tx *sql.Tx, caseID int64) (string, time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next.IsZero() {
		return "", time.Time{}, false, nil
	}
	return "pre-release notice to the distributors", f.next, true, nil
}

func (f *fakeScheduler) Draft(ctx context.Context, tx *sql.Tx, c *Case, name string, o DraftOptions) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "draft "+c.Ref+" "+name)
	f.drafts = append(f.drafts, o)
	return "rendered " + name, "DRAFT-BODY of " + c.Ref + ": " + c.Title + "\n", nil
}

func (f *fakeScheduler) Withdraw(ctx context.Context, tx *sql.Tx, c *Case, reason, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("withdraw %s %s %q", c.Ref, c.State, reason))
	return nil
}

func (f *fakeScheduler) NotifyNow(ctx context.Context, tx *sql.Tx, c *Case, force, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, fmt.Sprintf("notify %s %q", c.Ref, force))
	return nil
}

// NotifyList implements ListNotifier: /notify [LIST].
func (f *fakeScheduler) NotifyList(ctx context.Context, tx *sql.Tx, c *Case, list, force, actor string) (string, error) {
	if list == "" {
		return "", f.NotifyNow(ctx, tx, c, force, actor)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.calls = append(f.calls, fmt.Sprintf("notify %s %q list %s", c.Ref, force, list))
	return "Embargo lists:\n  " + list + ": told now\n", nil
}

func (f *fakeScheduler) Kick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kicks++
}

func (f *fakeScheduler) PublishNow(ctx context.Context, tx *sql.Tx, c *Case, reason, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, "publish "+c.Ref+" "+reason)
	return nil
}

type env struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	clock *clock.Fake
	dir   *distlist.Directory
	ob    *distlist.Outbox
	wf    *Workflow
	team  *crypto.Key
	keys  map[string]*crypto.Key // address -> private key
	sched *fakeScheduler
}

type memberDef struct {
	name, addr, role string
	rota             int
	away             bool
	key              *crypto.Key
}

// newEnv opens a fresh store with a team of alice (role lead, rota 1), bob
// (rota 2) and carol (rota 3), the real distlist directory and outbox (no
// delivery), the embedded templates and a fake scheduler.
func newEnv(t testing.TB, extra ...memberDef) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, ctx: ctx, db: db, clock: clock.NewFake(t0), team: testKey(t, teamAddr, 0), keys: map[string]*crypto.Key{}, sched: &fakeScheduler{}}
	e.dir = distlist.NewDirectory(db, e.clock, nil)
	members := []memberDef{
		{name: "Alice", addr: "alice@example.org", role: distlist.RoleLead, rota: 1},
		{name: "Bob", addr: "bob@example.org", role: distlist.RoleMember, rota: 2},
		{name: "Carol", addr: "carol@example.org", role: distlist.RoleMember, rota: 3},
	}
	for _, m := range append(members, extra...) {
		k := m.key
		if k == nil {
			k = testKey(t, m.addr, 0)
		}
		e.keys[m.addr] = k
		if _, err := e.dir.AddMember(ctx, nil, distlist.MemberSpec{Name: m.name, Address: m.addr, Role: m.role, Rota: m.rota,
			Away: m.away, Key: []byte(armorPub(t, k)), AllowMismatch: true}); err != nil {
			t.Fatalf("add member %s: %v", m.addr, err)
		}
	}
	e.ob, err = distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: e.dir, TeamKey: e.team, Clock: e.clock,
		Config: distlist.Config{From: "Security Team <" + teamAddr + ">", SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone}}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	e.wf, err = New(Options{DB: db, Directory: e.dir, Outbox: e.ob, Templates: set, TeamKey: e.team, TeamAddress: teamAddr,
		Project: templates.Project{Name: "Example", TeamAddress: teamAddr}, Scheduler: e.sched, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) member(addr string) distlist.Member {
	e.t.Helper()
	m, err := e.dir.MemberByAddress(e.ctx, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// open opens a case from a clear-text report with a reporter key.
func (e *env) open(withKey bool) *Case {
	e.t.Helper()
	r := Report{MessageID: "<report-1@reporter.example>", From: "Rita <rita@reporter.example>", Subject: "RCE in the frobnicator",
		Text: "The frobnicator runs any command in X-Frob. SECRET-REPORT-TEXT", Received: e.clock.Now(),
		Attachments: []Attachment{{Filename: "poc.sh", ContentType: "text/x-sh", Data: []byte("echo SECRET-POC")}},
		Terms:       "disclose after 90 days"}
	if withKey {
		r.Key = armorPub(e.t, testKey(e.t, "rita@reporter.example", 0))
	}
	var c *Case
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		c, err = e.wf.OpenCase(e.ctx, tx, r)
		return err
	})
	if err != nil {
		e.t.Fatalf("OpenCase: %v", err)
	}
	return c
}

// signed builds a real command mail: body signed by key, sealed to the
// team key, opened by crypto.Open as intake does.
func (e *env) signed(from string, key *crypto.Key, subject, body string, at time.Time) CommandMail {
	e.t.Helper()
	return e.signedEntity(from, key, subject, textEntity(body), at)
}

// signedEntity is signed for any MIME entity (a body with attachments).
func (e *env) signedEntity(from string, key *crypto.Key, subject string, entity []byte, at time.Time) CommandMail {
	e.t.Helper()
	s, err := key.Sign(crypto.Content{Subject: subject, From: from, Entity: entity}, at)
	if err != nil {
		e.t.Fatalf("sign: %v", err)
	}
	sealed, err := s.SealFor(e.team.Public(), at)
	if err != nil {
		e.t.Fatalf("seal: %v", err)
	}
	return e.openRaw(from, subject, sealed)
}

// openRaw prepends outer headers to entity and opens it like intake.
func (e *env) openRaw(from, subject string, entity []byte) CommandMail {
	e.t.Helper()
	id := "<" + randHex() + "@client.example>"
	raw := "From: " + from + "\r\nTo: " + teamAddr + "\r\nSubject: ...\r\nMessage-ID: " + id + "\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	var verifiers []*crypto.Key
	for _, k := range e.keys {
		verifiers = append(verifiers, k.Public())
	}
	full := append([]byte(raw), entity...)
	o, err := crypto.Open(full, crypto.OpenOptions{Decrypt: e.team, Verifiers: verifiers, Now: e.clock.Now()})
	m, herr := NewCommandMail(full, o, err, e.clock.Now())
	if herr != nil {
		e.t.Fatalf("command mail header: %v", herr)
	}
	// The outer Subject is the one the client wrote outside, which tests
	// name as the signed one unless they set another.
	m.Subject = subject
	return m
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// handle runs HandleCommandMail and fails the test on a gateway error.
func (e *env) handle(m CommandMail) {
	e.t.Helper()
	if err := e.wf.HandleCommandMail(e.ctx, m); err != nil {
		e.t.Fatalf("HandleCommandMail: %v", err)
	}
}

// mailsTo returns the decrypted (or clear) texts queued for addr of a kind,
// in order, after checking each is signed by the team key.
func (e *env) mailsTo(addr, kind string) []string {
	e.t.Helper()
	// The bytes are in outbox_message (older schema: outbox.raw).
	rows, err := e.db.Reader().Query(`SELECT m.raw, o.encrypt FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE o.recipient = ? AND o.kind = ? ORDER BY o.id`, addr, kind)
	if err != nil {
		rows, err = e.db.Reader().Query(`SELECT raw, encrypt FROM outbox WHERE recipient = ? AND kind = ? ORDER BY id`, addr, kind)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw []byte
		var enc int
		if err := rows.Scan(&raw, &enc); err != nil {
			e.t.Fatal(err)
		}
		o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: e.keys[addr], Verifiers: []*crypto.Key{e.team.Public()}, Now: e.clock.Now()})
		if addr == "rita@reporter.example" {
			o, err = crypto.Open(raw, crypto.OpenOptions{Decrypt: testKey(e.t, addr, 0), Verifiers: []*crypto.Key{e.team.Public()}, Now: e.clock.Now()})
		}
		if err != nil {
			e.t.Fatalf("open mail to %s: %v", addr, err)
		}
		if (enc == 1) != o.Encrypted {
			e.t.Fatalf("mail to %s: encrypt=%d but Encrypted=%v", addr, enc, o.Encrypted)
		}
		if o.Signature == nil || o.Signature.Err != nil || o.Signature.Fingerprint != e.team.Fingerprint() {
			e.t.Fatalf("mail to %s is not signed by the team key: %+v", addr, o.Signature)
		}
		text, _, err := crypto.TextBody(o.Entity)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, text)
	}
	return out
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Reader().QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// audit returns "action: detail" lines of a case's log.
func (e *env) audit(caseID int64) []string {
	e.t.Helper()
	evs, err := e.wf.AuditLog(e.ctx, caseID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action+": "+ev.Detail)
	}
	return out
}

func (e *env) get(id int64) *Case {
	e.t.Helper()
	c, err := e.wf.GetByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func lastContains(t *testing.T, what string, list []string, want string) {
	t.Helper()
	if want == "" {
		t.Fatalf("lastContains(%s) with an empty want matches anything", what)
	}
	if len(list) == 0 {
		t.Fatalf("no %s", what)
	}
	if !strings.Contains(list[len(list)-1], want) {
		t.Fatalf("last %s = %q, want it to contain %q", what, list[len(list)-1], want)
	}
}
