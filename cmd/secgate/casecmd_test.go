package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/schedule"
	"github.com/secgate/secgate/store"
	"github.com/secgate/secgate/templates"
)

// fixtureTime is when the fixture's case was received. The team key that
// secgate init generates is created at the real now, so the fixture's
// clock runs after it; the other keys are created before the real now, so
// the commands (which check keys at the real now) see them valid.
var (
	fixtureTime = time.Date(2030, 1, 2, 9, 30, 0, 0, time.UTC)
	keysCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fixture is an initialised gateway directory with a populated database:
// two team members (alice leads), an embargo list with one usable and one
// expired key, one case with its report, two outbox rows (one queued, one
// failed) and one quarantined inbound message.
type fixture struct {
	dir, cfg string
	env      map[string]string
	ref      string
	caseID   int64
	queued   int64 // outbox row to dana, queued
	failed   int64 // outbox row to alice, failed by the operator
	held     int64 // quarantined inbound message
	fprs     map[string]string
	keyFiles map[string]string // armored public key files by person
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir, cfgPath, _ := initDir(t)
	f := &fixture{dir: dir, cfg: cfgPath, env: map[string]string{"SECGATE_PASSPHRASE": testPass},
		fprs: map[string]string{}, keyFiles: map[string]string{}}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	team, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	f.fprs["team"] = team.Fingerprint()
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(fixtureTime)
	d := distlist.NewDirectory(db, clk, nil)

	key := func(who string, opts crypto.GenerateOptions) []byte {
		t.Helper()
		opts.Algorithm = "x25519"
		if opts.Created.IsZero() {
			opts.Created = keysCreated
		}
		k, err := crypto.GenerateKey(who, strings.ToLower(who)+"@example.org", opts)
		if err != nil {
			t.Fatal(err)
		}
		arm, err := k.ArmorPublic()
		if err != nil {
			t.Fatal(err)
		}
		f.fprs[who] = k.Fingerprint()
		path := filepath.Join(dir, strings.ToLower(who)+".asc")
		if err := os.WriteFile(path, []byte(arm), 0o644); err != nil {
			t.Fatal(err)
		}
		f.keyFiles[who] = path
		return []byte(arm)
	}
	for i, m := range []distlist.MemberSpec{
		{Name: "Alice", Address: "alice@example.org", Role: distlist.RoleLead, Rota: 1},
		{Name: "Bob", Address: "bob@example.org", Rota: 2},
	} {
		m.Key = key(m.Name, crypto.GenerateOptions{})
		if _, err := d.AddMember(ctx, nil, m); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	if err := d.CreateList(ctx, nil, "embargo", distlist.KindEmbargo, distlist.SourceCLI); err != nil {
		t.Fatal(err)
	}
	dana := key("Dana", crypto.GenerateOptions{})
	if _, err := d.AddRecipient(ctx, nil, "embargo", distlist.RecipientSpec{Name: "Dana", Address: "dana@example.org", Key: dana}); err != nil {
		t.Fatal(err)
	}
	old := key("Olga", crypto.GenerateOptions{Created: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Lifetime: 48 * time.Hour})
	if _, err := d.AddRecipient(ctx, nil, "embargo", distlist.RecipientSpec{Name: "Olga", Address: "olga@example.org", Key: old}); err != nil {
		t.Fatal(err)
	}
	key("Erin", crypto.GenerateOptions{}) // a key file for imports; not stored

	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: d, TeamKey: team, Config: cfg.packageDistlist(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cases.New(cases.Options{DB: db, Directory: d, Outbox: ob, TeamKey: team, TeamAddress: cfg.Gateway.Team,
		Clock: clk, Config: cfg.Cases})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := w.OpenCase(ctx, tx, cases.Report{MessageID: "<r1@example.net>", From: "rita@example.net",
			Subject: "upload traversal", Text: "SECRET-REPORT-TEXT: POST /upload with ../ writes anywhere",
			Attachments: []cases.Attachment{{Filename: "poc.sh", ContentType: "text/x-sh", Data: []byte("echo poc\n")}},
			Encrypted:   true, Received: fixtureTime})
		if err != nil {
			return err
		}
		f.ref, f.caseID = c.Ref, c.ID
		if err := w.Audit(ctx, tx, c.ID, f.fprs["Alice"], "note", "looked at it", "<n1@example.org>"); err != nil {
			return err
		}
		cv, err := cases.ParseCVSS("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
		if err != nil {
			return err
		}
		err = w.UpdateCase(ctx, tx, c.ID, f.fprs["Alice"], "cvss", "CVSS and impact", "<n2@example.org>", func(c *cases.Case) error {
			c.CVSSVector, c.CVSSScore, c.Severity = cv.Vector, cv.Score, cv.Severity
			c.Impact, c.Terms = "IMPACT-TEXT: remote code execution", "TERMS-TEXT: 90 days"
			c.Title, c.Mitigation = "TITLE-TEXT: upload traversal", "MITIGATION-TEXT: turn uploads off"
			c.Patches = []string{"PATCH-TEXT: commit 4f2a9c1"}
			return nil
		})
		if err != nil {
			return err
		}
		team, err := d.Team(ctx)
		if err != nil {
			return err
		}
		lst, err := d.List(ctx, "embargo")
		if err != nil {
			return err
		}
		var to []distlist.Recipient
		for _, r := range lst.Recipients {
			if r.Address == "dana@example.org" {
				to = append(to, r)
			}
		}
		to = append(to, distlist.Recipient{Name: team[0].Name, Address: team[0].Address, Key: team[0].Key})
		_, err = ob.Enqueue(ctx, tx, distlist.Mail{Kind: "embargo-notice", CaseID: c.ID, NoticeID: "notice-1",
			Content: crypto.Content{Subject: "[" + c.Ref + "] embargo", From: cfg.Gateway.Team,
				Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nembargoed\r\n")},
			Encrypt: true, Recipients: to})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ob.Rows(ctx, distlist.RowFilter{CaseID: f.caseID})
	if err != nil || len(rows) != 2 {
		t.Fatalf("outbox rows: %v, %v", rows, err)
	}
	for _, r := range rows {
		switch r.Recipient {
		case "dana@example.org":
			f.queued = r.ID
		case "alice@example.org":
			f.failed = r.ID
		}
	}
	if err := ob.Fail(ctx, f.failed, "test"); err != nil {
		t.Fatal(err)
	}

	// A quarantined inbound message. Intake stores messages only from IMAP,
	// so the row is written here the way intake writes it: raw encrypted
	// at rest to the team key.
	raw := []byte("From: Mallory <mallory@example.net>\r\nTo: security@example.org\r\nSubject: flood\r\nMessage-ID: <q1@example.net>\r\n\r\nBODY-MUST-NOT-SHOW\r\n")
	ct, err := team.EncryptAtRest(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, reason)
			VALUES ('INBOX', 1, 7, ?, '<q1@example.net>', 'mallory@example.net', ?, ?, 'quarantined', 'rate limit: 31 messages in 1h0m0s')`,
			sum[:], len(raw), store.Millis(fixtureTime))
		if err != nil {
			return err
		}
		if f.held, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)`, f.held, ct)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs secgate with the fixture's configuration (and passphrase).
func (f *fixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, f.env, append(args, "-config", f.cfg)...)
}

// runNoKey runs secgate without the passphrase in the environment.
func (f *fixture) runNoKey(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, nil, append(args, "-config", f.cfg)...)
}

// scrub replaces the fixture's fingerprints, paths and generated IDs so
// that output can be compared with a golden file.
func (f *fixture) scrub(s string) string {
	for who, fpr := range f.fprs {
		s = strings.ReplaceAll(s, fpr, "<FPR "+who+">")
		s = strings.ReplaceAll(s, fpr[len(fpr)-16:], "<FPR "+who+">")
	}
	s = strings.ReplaceAll(s, f.dir, "<DIR>")
	return regexp.MustCompile(`<[0-9a-zA-Z._-]+@example\.org>`).ReplaceAllString(s, "<MSGID>")
}

// golden compares got with testdata/cli/NAME.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "cli", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/secgate -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s\nwant:\n%s", path, got, want)
	}
}

// ok runs secgate (with the passphrase when withKey) and checks that it
// succeeds; it returns stdout.
func (f *fixture) ok(t *testing.T, withKey bool, args ...string) string {
	t.Helper()
	run := f.runNoKey
	if withKey {
		run = f.run
	}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("secgate %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, stderr, stdout)
	}
	return stdout
}

// mustFail checks a failed run: exit 1, one line on stderr containing want.
func mustFail(t *testing.T, code int, stderr, want string) {
	t.Helper()
	if code != 1 || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "goroutine") {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line containing %q", code, stderr, want)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, s)
	}
}

func TestCaseCommands(t *testing.T) {
	f := newFixture(t)

	t.Run("list", func(t *testing.T) {
		out := f.ok(t, false, "case", "list")
		golden(t, "case_list", f.scrub(out))
		out = f.ok(t, false, "case", "list", "--state", "confirmed,closed")
		if out != "no cases\n" {
			t.Errorf("filtered list: %q", out)
		}
		out = f.ok(t, false, "case", "list", "--open", "--state", "new")
		if !strings.Contains(out, f.ref) {
			t.Errorf("open new cases lack %s:\n%s", f.ref, out)
		}
		var got []map[string]any
		decodeJSON(t, f.ok(t, false, "case", "list", "--json"), &got)
		if len(got) != 1 || got[0]["ref"] != f.ref || got[0]["state"] != "new" || got[0]["lead"] != f.fprs["Alice"] ||
			got[0]["reporter"] != "rita@example.net" || got[0]["received"] != "2030-01-02T09:30:00Z" {
			t.Errorf("JSON: %v", got)
		}
		if _, ok := got[0]["impact"]; ok {
			t.Error("the JSON list carries the encrypted impact field")
		}
	})

	t.Run("show", func(t *testing.T) {
		out := f.ok(t, false, "case", "show", f.ref)
		if strings.Contains(out, "SECRET-REPORT-TEXT") || strings.Contains(out, "poc.sh") || strings.Contains(out, "-TEXT") {
			t.Errorf("case show without --text shows report content:\n%s", out)
		}
		golden(t, "case_show", f.scrub(out))

		var got caseShowJSON
		decodeJSON(t, f.ok(t, false, "case", "show", strings.ToLower(f.ref), "--json"), &got)
		if got.Case.Ref != f.ref || !got.AuditVerified || len(got.Audit) < 2 || len(got.Messages) != 1 ||
			got.Messages[0].Attachments != 1 || got.Messages[0].Text != nil || got.Audit[len(got.Audit)-1].Action != "cvss" || got.Case.Impact != nil || got.Case.Severity != "CRITICAL" {
			t.Errorf("JSON: %+v", got)
		}
	})

	t.Run("show --text", func(t *testing.T) {
		out := f.ok(t, true, "case", "show", f.ref, "--text")
		for _, want := range []string{"SECRET-REPORT-TEXT", "Subject: upload traversal", "IMPACT-TEXT", "TERMS-TEXT", "TITLE-TEXT", "MITIGATION-TEXT",
			"PATCH-TEXT", "[attachment poc.sh, text/x-sh, 9 bytes]", "audit chain: verified"} {
			if !strings.Contains(out, want) {
				t.Errorf("case show --text lacks %q:\n%s", want, out)
			}
		}
		var got caseShowJSON
		decodeJSON(t, f.ok(t, true, "case", "show", f.ref, "--text", "--json"), &got)
		if len(got.Messages) != 1 || got.Messages[0].Text == nil || !strings.Contains(*got.Messages[0].Text, "SECRET") ||
			len(got.Messages[0].Files) != 1 {
			t.Errorf("JSON --text: %+v", got.Messages)
		}
	})

	t.Run("errors", func(t *testing.T) {
		code, _, stderr := f.runNoKey(t, "case", "show", "SEC-1999-0001")
		mustFail(t, code, stderr, "no case SEC-1999-0001")
		code, _, stderr = f.runNoKey(t, "case", "show", f.ref, "--text")
		mustFail(t, code, stderr, "SECGATE_PASSPHRASE is not set")
		code, _, stderr = f.runNoKey(t, "case", "list", "--state", "nope")
		mustFail(t, code, stderr, `unknown state "nope"`)
		code, _, stderr = f.runNoKey(t, "case", "show")
		mustFail(t, code, stderr, "want 1 argument: REF")
		code, _, stderr = f.runNoKey(t, "case", "list", "-bogus")
		mustFail(t, code, stderr, "flag provided but not defined: -bogus")
		code, _, stderr = runCLI(t, nil, "case", "list", "-config", filepath.Join(t.TempDir(), "none.toml"))
		mustFail(t, code, stderr, "secgate init")
	})
}

// TestCaseShowBrokenAudit shows that a chain that does not verify is
// reported and makes the command fail.
func TestCaseShowBrokenAudit(t *testing.T) {
	f := newFixture(t)
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	// The log is append-only by trigger; an attacker with the file drops
	// the trigger first.
	err = db.Tx(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DROP TRIGGER case_audit_no_update`); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE case_audit SET detail = 'forged' WHERE case_id = ? AND seq = 1`, f.caseID)
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := f.runNoKey(t, "case", "show", f.ref)
	mustFail(t, code, stderr, "audit chain of "+f.ref+" does not verify")
	if !strings.Contains(out, "audit chain: BROKEN") {
		t.Errorf("output lacks the break:\n%s", out)
	}
}

// gatewayConfig returns the fixture's configuration, with the password
// files a gateway reads at start, and its unlocked team key.
func (f *fixture) gatewayConfig(t *testing.T) (*Config, *crypto.Key) {
	t.Helper()
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	team, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cfg.IMAP.PasswordFile, cfg.SMTP.PasswordFile} {
		if err := os.WriteFile(p, []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, team
}

// disclosure runs the fixture case's disclosure through the real
// scheduler and outbox, into a server that accepts all mail but that of
// temperror@distro.example, which it defers for good: the embargo notice
// and the pre-announcement go out, the date moves once the pre-release
// notice is queued (withdrawn; the first plan's steps still pending
// cancelled), and the gateway is down past the new date, so that the
// deferred distributor's notices are missed and so is the new pre-release
// notice, and the announcement goes out late. The retrospective
// reminders are still planned.
func (f *fixture) disclosure(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cfg, team := f.gatewayConfig(t)
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(fixtureTime)
	dir := distlist.NewDirectory(db, clk, nil)
	dc := cfg.packageDistlist()
	dc.SMTP = distlist.SMTPConfig{Addr: sink.Addr, TLS: distlist.TLSNone}
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, Directory: dir, TeamKey: team, Config: dc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load(cfg.Gateway.Templates)
	if err != nil {
		t.Fatal(err)
	}
	w, err := cases.New(cases.Options{DB: db, Directory: dir, Outbox: ob, Templates: set, TeamKey: team,
		TeamAddress: cfg.Gateway.Team, Clock: clk, Config: cfg.Cases})
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.New(schedule.Options{DB: db, Directory: dir, Outbox: ob, Cases: w, Templates: set,
		TeamAddress: cfg.Gateway.Team, Clock: clk, Config: cfg.Schedule})
	if err != nil {
		t.Fatal(err)
	}
	w.SetScheduler(s)
	slow, err := crypto.GenerateKey("Slow Distro", "temperror@distro.example", crypto.GenerateOptions{Algorithm: "x25519", Created: keysCreated})
	if err != nil {
		t.Fatal(err)
	}
	slowPub, err := slow.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	alice := f.fprs["Alice"]
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := dir.AddRecipient(ctx, tx, "embargo", distlist.RecipientSpec{Name: "Slow Distro", Address: "temperror@distro.example", Key: []byte(slowPub)}); err != nil {
			return err
		}
		if err := dir.CreateList(ctx, tx, "announce", distlist.KindPublic, distlist.SourceCLI); err != nil {
			return err
		}
		if _, err := dir.AddRecipient(ctx, tx, "announce", distlist.RecipientSpec{Address: "announce@lists.example.org"}); err != nil {
			return err
		}
		if err := w.SetState(ctx, tx, f.caseID, cases.StateConfirmed, alice, "reproduced"); err != nil {
			return err
		}
		return w.UpdateCase(ctx, tx, f.caseID, alice, "versions", "versions", "<n3@example.org>", func(c *cases.Case) error {
			c.Affected, c.Fixed = "< 2.4.1", "2.4.1"
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	disclose := func(t0 time.Time) {
		t.Helper()
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			c, err := w.GetTx(ctx, tx, f.caseID)
			if err != nil {
				return err
			}
			_, err = s.Disclose(ctx, tx, c, t0, cases.DiscloseOptions{Force: "Olga renews her key"}, alice)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	flush := func(at time.Time) {
		t.Helper()
		clk.Set(at)
		if err := ob.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runDue := func(at time.Time) {
		t.Helper()
		clk.Set(at)
		if _, err := s.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	disclose(time.Date(2030, 1, 24, 14, 0, 0, 0, time.UTC))
	flush(fixtureTime.Add(7 * time.Second))
	runDue(time.Date(2030, 1, 23, 14, 0, 0, 0, time.UTC)) // the pre-release notice, queued
	clk.Set(time.Date(2030, 1, 23, 14, 0, 30, 0, time.UTC))
	disclose(time.Date(2030, 1, 25, 14, 0, 0, 0, time.UTC))
	flush(time.Date(2030, 1, 23, 14, 0, 41, 0, time.UTC))
	// Down past the new date: at restart the outbox runs first.
	flush(time.Date(2030, 1, 25, 15, 0, 0, 0, time.UTC))
	runDue(time.Date(2030, 1, 25, 15, 0, 2, 0, time.UTC))
	flush(time.Date(2030, 1, 25, 15, 0, 9, 0, time.UTC))
}

// TestCaseShowTimeline: case show tells the disclosure timeline, past and
// planned, each step with its time to the second, its state and each
// recipient's delivery; -json carries the same.
func TestCaseShowTimeline(t *testing.T) {
	f := newFixture(t)
	f.disclosure(t)
	out := f.ok(t, false, "case", "show", f.ref)
	if strings.Contains(out, "-TEXT") || strings.Contains(out, "SECRET") {
		t.Errorf("case show without --text shows encrypted content:\n%s", out)
	}
	// A deferred row's next attempt has jitter.
	next := regexp.MustCompile(`next attempt 2030-01-25 15:0[01]:[0-9]{2} UTC`)
	if !next.MatchString(out) {
		t.Errorf("the deferred announcement is not tried again about a minute later:\n%s", out)
	}
	golden(t, "case_show_timeline", next.ReplaceAllString(f.scrub(out), "next attempt <ABOUT A MINUTE LATER>"))

	var got caseShowJSON
	decodeJSON(t, f.ok(t, false, "case", "show", f.ref, "--json"), &got)
	if got.Plan == nil || got.Plan.Policy != "knative" || got.Plan.T0 == nil || !got.Plan.T0.Equal(time.Date(2030, 1, 25, 14, 0, 0, 0, time.UTC)) ||
		got.Plan.Published == nil || got.Plan.Forced != "Olga renews her key" {
		t.Errorf("JSON plan: %+v", got.Plan)
	}
	var lines []string
	for _, s := range got.Steps {
		line := fmt.Sprintf("%s %s %s %s", s.Due.Format(time.RFC3339), s.Kind, s.State, strings.Join(s.Audience, ","))
		for _, m := range s.Mail {
			line += fmt.Sprintf(" %s/%s:%s", m.Audience, m.Recipient, m.State)
			if m.State == "sent" && (m.Sent == nil || m.Code != 250) {
				line += "(no 250 time)"
			}
		}
		lines = append(lines, line)
	}
	want := []string{
		"2030-01-02T09:30:00Z embargo-notice done embargo embargo/dana@example.org:sent embargo/temperror@distro.example:missed",
		"2030-01-02T09:30:00Z pre-announcement done announce announce/announce@lists.example.org:sent",
		"2030-01-23T14:00:00Z prerelease-notice done embargo embargo/dana@example.org:withdrawn embargo/temperror@distro.example:withdrawn",
		"2030-01-23T14:00:30Z embargo-change done embargo embargo/dana@example.org:sent embargo/temperror@distro.example:missed",
		"2030-01-23T14:00:30Z pre-announcement done announce announce/announce@lists.example.org:sent",
		"2030-01-24T14:00:00Z prerelease-notice missed embargo",
		"2030-01-24T14:00:00Z announcement cancelled announce,embargo",
		"2030-01-25T14:00:00Z announcement done announce,embargo announce/announce@lists.example.org:sent embargo/dana@example.org:sent embargo/temperror@distro.example:deferred",
		"2030-01-25T14:00:00Z retrospective cancelled lead",
		"2030-01-26T14:00:00Z retrospective planned lead",
		"2030-01-27T14:00:00Z retrospective cancelled lead",
		"2030-01-28T14:00:00Z retrospective planned lead",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("JSON steps:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
