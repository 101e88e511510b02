package schedule

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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

// TestWorkflowDisclose drives the scheduler through the real case
// workflow: the lead's signed command mails confirm the case, fill in the
// impact and versions, and /disclose it; the plan comes back in the
// answer, the embargo notice leaves at once, and a refused /disclose
// changes nothing.
func TestWorkflowDisclose(t *testing.T) {
	now := utc("2026-11-20 10:00")
	e := newWorkflowEnv(t, now)
	ctx, clk, db, wf, s, team, vendor := e.ctx, e.clk, e.db, e.wf, e.s, e.team, e.vendor
	c := e.open("<r1@reporter.example>", "upload traversal", "POST /upload with ../ writes anywhere", "knative", "")
	command := func(body string) { t.Helper(); e.command(c, body) }
	answers, vendorMails := e.answers, e.vendorMails

	// Not confirmed yet: refused, nothing planned.
	command("/disclose 2026-12-15 16:00 UTC")
	if a := answers(); len(a) != 1 || !strings.Contains(a[0], "confirmed") {
		t.Fatalf("answer to /disclose on a new case: %q", a)
	}
	command("/status confirmed\n/affected < 1.2.3\n/fixed 1.2.3\n/cve CVE-2026-12345")
	// Missing impact: refused.
	command("/disclose 2026-12-15 16:00 UTC")
	if a := answers(); len(a) != 3 || !strings.Contains(a[2], "impact") {
		t.Fatalf("answer to /disclose without impact: %q", a[len(a)-1])
	}
	if vendorMails() != 0 {
		t.Fatal("a refused /disclose sent a notice")
	}
	command("/impact\nAn unauthenticated attacker can write files anywhere.\n")
	// Inside the three weeks: refused with the reason.
	command("/disclose 2026-12-01 16:00 Europe/Berlin")
	if a := answers(); !strings.Contains(a[len(a)-1], "at least 21 days") {
		t.Fatalf("answer to a too-early /disclose: %q", a[len(a)-1])
	}
	command("/status triaged\n/status cve-requested")
	command("/disclose 2026-12-15 16:00 UTC")
	a := answers()
	containsAll(t, "answer to /disclose", a[len(a)-1], "2026-12-15 16:00 UTC", "America/New_York", "2026-12-15 11:00 EST", "pre-release notice")
	if vendorMails() != 1 {
		t.Fatalf("%d notices to the vendor, want 1", vendorMails())
	}
	got, err := wf.GetByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DiscloseAt.Equal(utc("2026-12-15 16:00")) || got.State != cases.StateFixCommitted {
		t.Errorf("after the notice: DiscloseAt %v, state %s (want fix-committed)", got.DiscloseAt, got.State)
	}
	log, err := wf.AuditLog(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range log {
		actions = append(actions, ev.Action)
	}
	containsAll(t, "audit log", strings.Join(actions, " "), "disclose", "embargo-notice")
	if err := wf.VerifyAudit(ctx, c.ID); err != nil {
		t.Error(err)
	}
	// The notice opens for the vendor and carries the calendar.
	var raw []byte
	db.Reader().QueryRow(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id WHERE o.recipient = 'sec@vendor.example'`).Scan(&raw)
	o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: vendor, Verifiers: []*crypto.Key{team.Public()}, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, atts, _ := crypto.TextBody(o.Entity)
	if len(atts) != 1 || !bytes.Contains(atts[0].Data, []byte("DTSTART:20261215T160000Z")) {
		t.Errorf("calendar %+v", atts)
	}
	// The loop carries the case to fix-released at T0.
	for _, at := range []string{"2026-12-14 16:00", "2026-12-15 16:00"} {
		clk.Set(utc(at))
		if _, err := s.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := wf.GetByID(ctx, c.ID); got.State != cases.StateFixReleased {
		t.Errorf("after T0: state %s, want fix-released", got.State)
	}
	if err := wf.VerifyAudit(ctx, c.ID); err != nil {
		t.Error(err)
	}

	// A second case whose embargo is broken by /publish-now: it goes out at
	// once, and the case keeps the time it went public.
	c = e.open("<r2@reporter.example>", "read anywhere", "GET /download?f=../ reads anywhere", "knative", "")
	command("/status confirmed\n/affected < 1.2.4\n/fixed 1.2.4")
	command("/impact\nAn unauthenticated attacker can read any file.\n")
	command("/status triaged\n/status cve-requested")
	// Within four weeks: the embargo notice is queued at once.
	command("/disclose " + clk.Now().Add(24*Day).UTC().Format("2006-01-02 15:04") + " UTC")
	broken := clk.Now()
	command("/publish-now the exploit was posted on a public forum")
	got, err = wf.GetByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DiscloseAt.Equal(broken) || got.State != cases.StateFixReleased {
		t.Errorf("after /publish-now at %v: DiscloseAt %v, state %s (want that time, fix-released); answer %q", broken, got.DiscloseAt, got.State, answers()[len(answers())-1])
	}
	// The embargo notice of the broken plan was still waiting in the
	// outbox (its server is down): it never goes out now.
	var state, reply string
	db.Reader().QueryRow(`SELECT state, last_reply FROM outbox WHERE case_id = ? AND kind = ? AND recipient = 'sec@vendor.example'`,
		c.ID, MailEmbargoNotice).Scan(&state, &reply)
	if state != "failed" || !strings.HasPrefix(reply, "withdrawn: embargo broken") {
		t.Errorf("the waiting embargo notice of the broken plan: %s %q, want withdrawn", state, reply)
	}
}

// workflowEnv is a real case workflow and scheduler on one database, with
// a team key, a lead (Alice) and one distributor, whose outbox sends
// nowhere: what is sent is read from the outbox.
type workflowEnv struct {
	t                  *testing.T
	ctx                context.Context
	clk                *clock.Fake
	db                 *store.DB
	team, lead, vendor *crypto.Key
	wf                 *cases.Workflow
	s                  *Scheduler
}

const workflowTeam = "security@example.org"

func newWorkflowEnv(t *testing.T, now time.Time) *workflowEnv {
	t.Helper()
	ctx := context.Background()
	e := &workflowEnv{t: t, ctx: ctx, clk: clock.NewFake(now)}
	var err error
	e.db, err = store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	e.team, e.lead, e.vendor = e.key(workflowTeam), e.key("alice@example.org"), e.key("sec@vendor.example")
	dir := distlist.NewDirectory(e.db, e.clk, nil)
	if _, err := dir.AddMember(ctx, nil, distlist.MemberSpec{Name: "Alice", Address: "alice@example.org", Role: distlist.RoleLead, Rota: 1, TZ: "America/New_York", Key: e.armor(e.lead)}); err != nil {
		t.Fatal(err)
	}
	if err := dir.CreateList(ctx, nil, "embargo", distlist.KindEmbargo, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddRecipient(ctx, nil, "embargo", distlist.RecipientSpec{Name: "Vendor", Address: "sec@vendor.example", Key: e.armor(e.vendor)}); err != nil {
		t.Fatal(err)
	}
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: e.db, Directory: dir, TeamKey: e.team, Clock: e.clk,
		Config: distlist.Config{From: workflowTeam, SMTP: distlist.SMTPConfig{Addr: "127.0.0.1:1", TLS: distlist.TLSNone}}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	project := templates.Project{Name: "Example", TeamAddress: workflowTeam}
	e.wf, err = cases.New(cases.Options{DB: e.db, Directory: dir, Outbox: ob, Templates: set, TeamKey: e.team, TeamAddress: workflowTeam,
		Project: project, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.s, err = New(Options{DB: e.db, Directory: dir, Outbox: ob, Cases: e.wf, Templates: set, Project: project, TeamAddress: workflowTeam, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.wf.SetScheduler(e.s)
	return e
}

// key makes a key for addr, made a day before the clock's start.
func (e *workflowEnv) key(addr string) *crypto.Key {
	k, err := crypto.GenerateKey(addr, addr, crypto.GenerateOptions{Created: e.clk.Now().Add(-Day)})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *workflowEnv) armor(k *crypto.Key) []byte {
	a, err := k.ArmorPublic()
	if err != nil {
		e.t.Fatal(err)
	}
	return []byte(a)
}

// open opens a case from Rita's report under policy; key is her armored
// key on file ("" for none).
func (e *workflowEnv) open(msgID, subject, text, policy, key string) *cases.Case {
	e.t.Helper()
	var c *cases.Case
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		var err error
		c, err = e.wf.OpenCase(e.ctx, tx, cases.Report{MessageID: msgID, From: "rita@reporter.example", Key: key,
			Subject: subject, Text: text, Received: e.clk.Now(), Policy: policy})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// command has the lead send a signed and encrypted command mail on c; the
// clock moves a minute on.
func (e *workflowEnv) command(c *cases.Case, body string) {
	e.t.Helper()
	at := e.clk.Now()
	sg, err := e.lead.Sign(crypto.Content{Subject: "[" + c.Ref + "] commands", From: "alice@example.org",
		Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n")}, at)
	if err != nil {
		e.t.Fatal(err)
	}
	sealed, err := sg.SealFor(e.team.Public(), at)
	if err != nil {
		e.t.Fatal(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	raw := append([]byte("From: alice@example.org\r\nTo: "+workflowTeam+"\r\nSubject: ...\r\nMessage-ID: <"+hex.EncodeToString(b)+
		"@client.example>\r\nDate: "+at.Format(time.RFC1123Z)+"\r\nMIME-Version: 1.0\r\n"), sealed...)
	o, oerr := crypto.Open(raw, crypto.OpenOptions{Decrypt: e.team, Verifiers: []*crypto.Key{e.lead.Public()}, Now: at})
	m, err := cases.NewCommandMail(raw, o, oerr, at)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.wf.HandleCommandMail(e.ctx, m); err != nil {
		e.t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
}

// mailTo returns the texts of the mail of kind queued for recipient,
// decrypted with key (nil: the mail is read as it is, signed only).
func (e *workflowEnv) mailTo(recipient, kind string, key *crypto.Key) []string {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT m.raw FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE o.recipient = ? AND o.kind = ? ORDER BY o.id`, recipient, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw []byte
		rows.Scan(&raw)
		o, err := crypto.Open(raw, crypto.OpenOptions{Decrypt: key, Verifiers: []*crypto.Key{e.team.Public()}, Now: e.clk.Now()})
		if err != nil {
			e.t.Fatal(err)
		}
		text, _, _ := crypto.TextBody(o.Entity)
		out = append(out, text)
	}
	return out
}

// answers are the lead's answers, decrypted.
func (e *workflowEnv) answers() []string { return e.mailTo("alice@example.org", "answer", e.lead) }

// vendorMails counts the mail queued for the distributor.
func (e *workflowEnv) vendorMails() int {
	var n int
	e.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE recipient = 'sec@vendor.example'`).Scan(&n)
	return n
}

// TestPlannedFromTriaged: a case planned before a CVE was requested
// (Knative's CVE is optional) moves to fix-committed when its embargo
// notice goes out and to fix-released at T0, as one planned from
// cve-requested does: the lifecycle allows the step, and the deadline to
// develop the fix is met.
func TestPlannedFromTriaged(t *testing.T) {
	for _, from := range []string{"confirmed", "triaged"} {
		e := newWorkflowEnv(t, utc("2026-11-20 10:00"))
		c := e.open("<r1@reporter.example>", "read anywhere", "GET /download?f=../ reads anywhere", "knative", "")
		body := "/status confirmed\n/affected < 1.2.4\n/fixed 1.2.4\n/impact\nAn unauthenticated attacker can read any file.\n"
		if from == "triaged" {
			body += "\n/status triaged"
		}
		e.command(c, body)
		t0 := e.clk.Now().Add(24 * Day).UTC().Truncate(time.Hour)
		e.command(c, "/disclose "+t0.Format("2006-01-02 15:04")+" UTC")
		if _, err := e.s.RunDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		if e.vendorMails() != 1 {
			a := e.answers()
			t.Fatalf("from %s: %d embargo notices; answer %q", from, e.vendorMails(), a[len(a)-1])
		}
		if got, _ := e.wf.GetByID(e.ctx, c.ID); got.State != cases.StateFixCommitted {
			t.Errorf("planned from %s, after the embargo notice: state %s, want fix-committed", from, got.State)
		}
		e.clk.Set(t0)
		if _, err := e.s.RunDue(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.wf.GetByID(e.ctx, c.ID); got.State != cases.StateFixReleased {
			t.Errorf("planned from %s, after T0: state %s, want fix-released", from, got.State)
		}
	}
}
