package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

// archiveFixture is an initialised gateway whose cases were made through
// the workflow: done cases ended (wontfix) with every outbox row final,
// one ended case whose notice still waits in the outbox, one open case.
type archiveFixture struct {
	dir, cfg string
	env      map[string]string
	db, arch string // the project's database and its archive
	done     []string
	held     string
	open     string
	ids      map[string]int64
}

// archiveBefore is the -before date the tests archive with: after the
// fixture's cases last changed.
const archiveBefore = "2030-02-01"

func newArchiveFixture(t testing.TB, done int) *archiveFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "secgate.toml")
	f := &archiveFixture{dir: dir, cfg: cfgPath, env: map[string]string{"SECGATE_PASSPHRASE": testPass}, ids: map[string]int64{}}
	var errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(k string) string { return f.env[k] }}
	if code := run(ctx, []string{"init", "-config", cfgPath, "-domain", "example.org"}, a); code != 0 {
		t.Fatalf("secgate init: %s", errb.String())
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	f.db, f.arch = cfg.Gateway.Database, archiveFile(cfg.Gateway.Database)
	clk := clock.NewFake(fixtureTime)
	g := openArchiveGateway(t, cfg, clk)
	defer g.db.Close()
	db, d, ob, w := g.db, g.dir, g.ob, g.w
	alice, err := crypto.GenerateKey("Alice", "alice@example.org", crypto.GenerateOptions{Algorithm: "x25519", Created: keysCreated})
	if err != nil {
		t.Fatal(err)
	}
	arm, err := alice.ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddMember(ctx, nil, distlist.MemberSpec{Name: "Alice", Address: "alice@example.org", Role: distlist.RoleLead, Rota: 1, Key: []byte(arm)}); err != nil {
		t.Fatal(err)
	}
	m, err := d.MemberByAddress(ctx, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), store.ChunkSize/16+4096) // stored in pieces
	mk := func(i int, end bool, notice bool) string {
		var ref string
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			att := []byte(fmt.Sprintf("echo poc %d\n", i))
			if i == 0 {
				att = big
			}
			c, err := w.OpenCase(ctx, tx, cases.Report{MessageID: fmt.Sprintf("<r%d@example.net>", i), From: "rita@example.net",
				Subject: "report", Text: fmt.Sprintf("SECRET-REPORT-TEXT %d", i),
				Attachments: []cases.Attachment{{Filename: "poc.bin", ContentType: "application/octet-stream", Data: att}},
				Encrypted:   true, Received: clk.Now()})
			if err != nil {
				return err
			}
			ref, f.ids[c.Ref] = c.Ref, c.ID
			if err := w.Audit(ctx, tx, c.ID, m.Fingerprint, "note", "looked at it", fmt.Sprintf("<n%d@example.org>", i)); err != nil {
				return err
			}
			if notice {
				if _, err := ob.Enqueue(ctx, tx, distlist.Mail{Kind: "embargo-notice", CaseID: c.ID, NoticeID: "notice-" + c.Ref,
					Content: crypto.Content{Subject: "[" + c.Ref + "] embargo", From: cfg.Gateway.Team,
						Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nembargoed\r\n")},
					Encrypt: true, Recipients: []distlist.Recipient{{Name: "Alice", Address: m.Address, Key: m.Key}}}); err != nil {
					return err
				}
			}
			if end {
				return w.SetState(ctx, tx, c.ID, cases.StateWontfix, m.Fingerprint, "not a bug")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	for i := range done {
		f.done = append(f.done, mk(i, true, true))
	}
	f.held = mk(done, true, true)
	f.open = mk(done+1, false, false)
	// Nothing delivers here: the done cases' rows end failed, as the
	// operator's `outbox fail` leaves them; the held case's notice waits.
	rows, err := ob.Rows(ctx, distlist.RowFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.CaseID != f.ids[f.held] {
			if err := ob.Fail(ctx, r.ID, "not delivered in this test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

// archiveGateway is a project's database opened as the gateway opens it.
type archiveGateway struct {
	db  *store.DB
	dir *distlist.Directory
	ob  *distlist.Outbox
	w   *cases.Workflow
}

func openArchiveGateway(t testing.TB, cfg *Config, clk clock.Clock) *archiveGateway {
	t.Helper()
	ctx := context.Background()
	team, err := crypto.LoadPrivateKey(cfg.TeamKey.Path, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	g := &archiveGateway{}
	if g.db, err = store.Open(ctx, cfg.Gateway.Database); err != nil {
		t.Fatal(err)
	}
	g.dir = distlist.NewDirectory(g.db, clk, nil)
	if g.ob, err = distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: g.db, Directory: g.dir, TeamKey: team, Config: cfg.packageDistlist(), Clock: clk}); err != nil {
		t.Fatal(err)
	}
	if g.w, err = cases.New(cases.Options{DB: g.db, Directory: g.dir, Outbox: g.ob, TeamKey: team, TeamAddress: cfg.Gateway.Team, Clock: clk, Config: cfg.Cases}); err != nil {
		t.Fatal(err)
	}
	return g
}

// caseCounts are the queries a case's rows are counted with, ?1 its id:
// the test's own view of what belongs to a case.
var caseCounts = map[string]string{
	"cases":       `SELECT count(*) FROM cases WHERE id = ?1`,
	"messages":    `SELECT count(*) FROM case_messages WHERE case_id = ?1`,
	"attachments": `SELECT count(*) FROM case_attachments a JOIN case_messages m ON m.id = a.message_id WHERE m.case_id = ?1`,
	"pieces": `SELECT count(*) FROM blob_chunk WHERE owner = 'case_attachments' AND id IN
		(SELECT a.id FROM case_attachments a JOIN case_messages m ON m.id = a.message_id WHERE m.case_id = ?1)`,
	"team":     `SELECT count(*) FROM case_team WHERE case_id = ?1`,
	"audit":    `SELECT count(*) FROM case_audit WHERE case_id = ?1`,
	"outbox":   `SELECT count(*) FROM outbox WHERE case_id = ?1`,
	"bytes":    `SELECT count(*) FROM outbox_message WHERE outbox_id IN (SELECT id FROM outbox WHERE case_id = ?1)`,
	"attempts": `SELECT count(*) FROM outbox_attempt WHERE outbox_id IN (SELECT id FROM outbox WHERE case_id = ?1)`,
}

// countCase counts case id's rows in the database at path (nil when the
// file does not exist).
func countCase(t testing.TB, path string, id int64) map[string]int {
	t.Helper()
	db, err := openRO(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	for k, q := range caseCounts {
		var n int
		if err := db.QueryRow(q, id).Scan(&n); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = n
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return len(a) == len(b)
}

func TestArchiveCommand(t *testing.T) {
	f := newArchiveFixture(t, 2)
	before := map[string]map[string]int{}
	for ref, id := range f.ids {
		before[ref] = countCase(t, f.db, id)
	}
	code, out, errs := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore)
	if code != 0 {
		t.Fatalf("archive: exit %d: %s %s", code, out, errs)
	}
	for _, want := range []string{
		"archived " + f.done[0] + " (wontfix", "archived " + f.done[1] + " (wontfix",
		"kept     " + f.held + " (wontfix", "outbox rows not in a final state: 2",
		"1 open case last changed before 2030-02-01 00:00 UTC is not archived: open cases never are",
		"archived 2 cases into " + f.arch + "; 1 case kept",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("archive output lacks %q:\n%s", want, out)
		}
	}
	for ref, id := range f.ids {
		live, arch := countCase(t, f.db, id), countCase(t, f.arch, id)
		moved := ref == f.done[0] || ref == f.done[1]
		switch {
		case moved && (live["cases"] != 0 || !sameCounts(arch, before[ref])):
			t.Errorf("%s: live %v, archive %v, before %v", ref, live, arch, before[ref])
		case !moved && (arch["cases"] != 0 || !sameCounts(live, before[ref])):
			t.Errorf("%s not archived: live %v, archive %v, before %v", ref, live, arch, before[ref])
		}
	}
	// The archive is listed, shown (sealed content opens with the team
	// key) and verified; so is the project's database.
	code, out, errs = runCLI(t, f.env, "case", "list", "-config", f.cfg, "-archive")
	if code != 0 || !strings.Contains(out, f.done[0]) || !strings.Contains(out, f.done[1]) || strings.Contains(out, f.open) {
		t.Errorf("case list -archive: exit %d: %s %s", code, out, errs)
	}
	code, out, _ = runCLI(t, f.env, "case", "list", "-config", f.cfg)
	if code != 0 || strings.Contains(out, f.done[0]) || !strings.Contains(out, f.open) {
		t.Errorf("case list: exit %d: %s", code, out)
	}
	code, out, errs = runCLI(t, f.env, "case", "show", "-config", f.cfg, "-archive", "-text", f.done[0])
	if code != 0 || !strings.Contains(out, "SECRET-REPORT-TEXT 0") {
		t.Errorf("case show -archive -text: exit %d: %s %s", code, out, errs)
	}
	for _, args := range [][]string{{}, {"-archive"}} {
		code, out, errs = runCLI(t, f.env, append([]string{"audit", "verify", "-config", f.cfg}, args...)...)
		if code != 0 || !strings.Contains(out, "audit log: verified against the signed head") {
			t.Errorf("audit verify %v: exit %d: %s %s", args, code, out, errs)
		}
	}
	// The project's log names the archived cases' chains by reference.
	if _, out, _ = runCLI(t, f.env, "audit", "verify", "-config", f.cfg); strings.Contains(out, "(gone)") {
		t.Errorf("audit verify names an archived case's chain gone:\n%s", out)
	}
	// Run again: nothing more to do.
	code, out, _ = runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore)
	if code != 0 || !strings.Contains(out, "archived 0 cases into") {
		t.Errorf("second archive: exit %d: %s", code, out)
	}

	// A rewritten event in the archive: its log no longer verifies, and
	// archive refuses to add to it.
	db, err := sql.Open("sqlite", f.arch)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER case_audit_no_update`, `UPDATE case_audit SET detail = 'nothing happened' WHERE id = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, out, _ = runCLI(t, f.env, "audit", "verify", "-config", f.cfg, "-archive")
	if code != 1 || !strings.Contains(out, "NOT VERIFIED") {
		t.Errorf("audit verify -archive of a tampered archive: exit %d: %s", code, out)
	}
	code, _, errs = runCLI(t, f.env, "archive", "-config", f.cfg, "-before", "2031-01-01")
	if code != 1 || !strings.Contains(errs, "the archive's audit log does not verify, nothing archived") {
		t.Errorf("archive into a tampered archive: exit %d: %s", code, errs)
	}
}

func TestArchiveFlags(t *testing.T) {
	f := newArchiveFixture(t, 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"archive", "-config", f.cfg}, "-before DATE is required"},
		{[]string{"archive", "-config", f.cfg, "-before", "yesterday"}, "-before:"},
		{[]string{"case", "list", "-config", f.cfg, "-archive"}, "no archive database"},
		{[]string{"audit", "verify", "-config", f.cfg, "-archive"}, "no archive database"},
	} {
		code, _, errs := runCLI(t, f.env, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, errs, tc.want)
		}
	}
	code, out, _ := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", "2030-02-01 00:00 Europe/Berlin", "-dry-run")
	if code != 0 || !strings.Contains(out, "would archive "+f.done[0]) || !strings.Contains(out, "would archive 1 case") {
		t.Errorf("archive -dry-run: exit %d: %s", code, out)
	}
	if n := countCase(t, f.db, f.ids[f.done[0]]); n["cases"] != 1 {
		t.Errorf("-dry-run moved the case: %v", n)
	}
	// A date before every case's last change archives nothing.
	code, out, _ = runCLI(t, f.env, "archive", "-config", f.cfg, "-before", "2030-01-01")
	if code != 0 || !strings.Contains(out, "archived 0 cases") {
		t.Errorf("archive before the cases: exit %d: %s", code, out)
	}
}

func TestArchiveBackup(t *testing.T) {
	f := newArchiveFixture(t, 1)
	if code, out, errs := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore); code != 0 {
		t.Fatalf("archive: %s %s", out, errs)
	}
	dst := filepath.Join(f.dir, "b.db")
	code, out, errs := runCLI(t, f.env, "backup", "-config", f.cfg, dst)
	if code != 0 || !strings.Contains(out, "written to "+dst) || !strings.Contains(out, "written to "+archiveFile(dst)) {
		t.Fatalf("backup: exit %d: %s %s", code, out, errs)
	}
	id := f.ids[f.done[0]]
	if n := countCase(t, archiveFile(dst), id); n["cases"] != 1 || n["pieces"] == 0 {
		t.Errorf("the backup's archive: %v", n)
	}
	if n := countCase(t, dst, id); n["cases"] != 0 || n["audit"] == 0 {
		t.Errorf("the backup's database: %v", n)
	}
	// Restored in place of the originals, the pair verifies and lists.
	for src, to := range map[string]string{dst: f.db, archiveFile(dst): f.arch} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(to + "-wal")
		os.Remove(to + "-shm")
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "-archive"}, {"case", "list", "-archive"}} {
		code, out, errs := runCLI(t, f.env, append(args, "-config", f.cfg)...)
		if code != 0 {
			t.Errorf("%v on the restored backup: exit %d: %s %s", args, code, out, errs)
		}
	}
	// A second backup to the same name never overwrites the archive's.
	os.Remove(dst)
	code, _, errs = runCLI(t, f.env, "backup", "-config", f.cfg, dst)
	if code != 1 || !strings.Contains(errs, archiveFile(dst)+" exists") {
		t.Errorf("backup over an existing archive copy: exit %d: %s", code, errs)
	}
	if fileExists(dst) {
		t.Error("the refused backup wrote the database's copy")
	}
}

func TestArchiveJSONAndArchivedCase(t *testing.T) {
	f := newArchiveFixture(t, 1)
	code, out, errs := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore, "-json")
	if code != 0 {
		t.Fatalf("archive -json: exit %d: %s", code, errs)
	}
	var res archiveJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Archived != 1 || res.Kept != 1 || res.Open != 1 || len(res.Cases) != 2 || res.Archive != f.arch ||
		res.Cases[0].Case != f.done[0] || res.Cases[0].Action != "archived" || res.Cases[0].Copied == 0 ||
		res.Cases[1].Action != "kept" || !strings.Contains(res.Cases[1].Hold, "outbox rows") {
		t.Errorf("archive -json: %+v", res)
	}
	// The project's database names an archived case as archived.
	code, _, errs = runCLI(t, f.env, "case", "show", "-config", f.cfg, f.done[0])
	if code != 1 || !strings.Contains(errs, f.done[0]+" was archived on ") || !strings.Contains(errs, "secgate case show -archive "+f.done[0]) {
		t.Errorf("case show of an archived case: exit %d: %s", code, errs)
	}
}

// TestArchiveRefusesBrokenLog rewrites an event of the project's audit
// log: archive copies nothing out of a log that does not verify.
func TestArchiveRefusesBrokenLog(t *testing.T) {
	f := newArchiveFixture(t, 1)
	db, err := sql.Open("sqlite", f.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER case_audit_no_update`, `UPDATE case_audit SET detail = 'nothing happened' WHERE id = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, _, errs := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore)
	if code != 1 || !strings.Contains(errs, "the project's audit log does not verify, nothing archived") {
		t.Errorf("archive of a rewritten log: exit %d: %s", code, errs)
	}
	if fileExists(f.arch) {
		t.Error("the archive database was created")
	}
}

func FuzzParseBefore(f *testing.F) {
	for _, s := range []string{"2026-01-01", "2026-01-01 10:00 UTC", "2026-03-29 02:30 Europe/Berlin", "yesterday", "", "2026-13-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseBefore(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Errorf("%q: %v is not UTC", s, got)
		}
		if len(strings.Fields(s)) == 1 && (got.Hour() != 0 || got.Minute() != 0) {
			t.Errorf("%q: a date reads as %v, not midnight UTC", s, got)
		}
	})
}

// TestArchiveAfterKeyRotation rotates the team key after a case was
// archived: the archive's heads, signed by the old key, still verify
// (with the keys the project's database records), its content still
// opens, and a later archive run extends the archive's log under the
// new key.
func TestArchiveAfterKeyRotation(t *testing.T) {
	f := newArchiveFixture(t, 1)
	if code, out, errs := runCLI(t, f.env, "archive", "-config", f.cfg, "-before", archiveBefore); code != 0 {
		t.Fatalf("archive: %s %s", out, errs)
	}
	if code, out, errs := runCLI(t, f.env, "key", "rotate", "-config", f.cfg); code != 0 {
		t.Fatalf("key rotate: exit %d: %s %s", code, out, errs)
	}
	verify := func(when string) {
		t.Helper()
		for _, args := range [][]string{{}, {"-archive"}} {
			if code, out, errs := runCLI(t, f.env, append([]string{"audit", "verify", "-config", f.cfg}, args...)...); code != 0 {
				t.Errorf("%s: audit verify %v: exit %d: %s %s", when, args, code, out, errs)
			}
		}
	}
	verify("after the rotation")
	code, out, errs := runCLI(t, f.env, "case", "show", "-config", f.cfg, "-archive", "-text", f.done[0])
	if code != 0 || !strings.Contains(out, "SECRET-REPORT-TEXT 0") {
		t.Errorf("case show -archive -text after the rotation: exit %d: %s %s", code, out, errs)
	}
	// The held case's notice gives up: it moves under the new key.
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := openArchiveGateway(t, cfg, clock.NewFake(fixtureTime))
	rows, err := g.ob.Rows(context.Background(), distlist.RowFilter{CaseID: f.ids[f.held]})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.State == "queued" {
			if err := g.ob.Fail(context.Background(), r.ID, "given up"); err != nil {
				t.Fatal(err)
			}
		}
	}
	g.db.Close()
	code, out, errs = runCLI(t, f.env, "archive", "-config", f.cfg, "-before", "2099-01-01")
	if code != 0 || !strings.Contains(out, "archived "+f.held) {
		t.Fatalf("archive after the rotation: exit %d: %s %s", code, out, errs)
	}
	verify("after a second archive")
}

// TestArchiveTwoRunsAtOnce runs two archive commands on the same
// databases at once: each case is moved once, whole; a case the other run
// moved first is named so; both logs verify.
func TestArchiveTwoRunsAtOnce(t *testing.T) {
	f := newArchiveFixture(t, 6)
	before := map[string]map[string]int{}
	for _, ref := range f.done {
		before[ref] = countCase(t, f.db, f.ids[ref])
	}
	type result struct {
		code      int
		out, errs string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			var out, errb bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return f.env[k] }}
			code := run(context.Background(), []string{"archive", "-config", f.cfg, "-before", archiveBefore}, a)
			results <- result{code, out.String(), errb.String()}
		}()
	}
	moved := 0
	for range 2 {
		r := <-results
		if r.code != 0 {
			t.Errorf("a run failed: exit %d: %s %s", r.code, r.out, r.errs)
		}
		moved += strings.Count(r.out, "\narchived "+"SEC-") + map[bool]int{true: 1}[strings.HasPrefix(r.out, "archived SEC-")]
	}
	if moved != len(f.done) {
		t.Errorf("%d moves reported for %d cases", moved, len(f.done))
	}
	for _, ref := range f.done {
		if live, arch := countCase(t, f.db, f.ids[ref]), countCase(t, f.arch, f.ids[ref]); live["cases"] != 0 || !sameCounts(arch, before[ref]) {
			t.Errorf("%s: live %v, archive %v, before %v", ref, live, arch, before[ref])
		}
	}
	for _, args := range [][]string{{}, {"-archive"}} {
		if code, out, errs := runCLI(t, f.env, append([]string{"audit", "verify", "-config", f.cfg}, args...)...); code != 0 {
			t.Errorf("audit verify %v: exit %d: %s %s", args, code, out, errs)
		}
	}
}
