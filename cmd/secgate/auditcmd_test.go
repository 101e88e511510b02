package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
)

// tamper runs statements on the fixture's database as an attacker with
// the file: the append-only triggers dropped first.
func (f *fixture) tamper(t *testing.T, fn func(tx *sql.Tx) error) {
	t.Helper()
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Tx(context.Background(), func(tx *sql.Tx) error {
		for _, tr := range []string{"case_audit_no_update", "case_audit_no_delete", "audit_head_no_update", "audit_head_no_delete"} {
			if _, err := tx.Exec(`DROP TRIGGER IF EXISTS ` + tr); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// savedHead writes the audit head that `secgate key report` prints (the
// part of the weekly mail members keep) to a file.
func (f *fixture) savedHead(t *testing.T) string {
	t.Helper()
	out := f.ok(t, false, "key", "report")
	i := strings.Index(out, "secgate audit head\n")
	if i < 0 {
		t.Fatalf("the key report carries no audit head:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "head.txt")
	if err := os.WriteFile(path, []byte(out[i:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuditVerifyCommand(t *testing.T) {
	f := newFixture(t)
	head := f.savedHead(t)

	out := f.ok(t, false, "audit", "verify")
	for _, want := range []string{
		"audit log: 3 events in 1 chain\n",
		"  " + f.ref + "  3 events  ok\n",
		"signed head:  2030-01-02 09:30 UTC, 3 events, signed by the team key " + f.fprs["team"] + ": matches\n",
		"audit log: verified against the signed head of 2030-01-02 09:30 UTC, 3 events\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit verify lacks %q:\n%s", want, out)
		}
	}
	out = f.ok(t, false, "audit", "verify", "-head", head)
	if want := "held head:    2030-01-02 09:30 UTC, 3 events (" + head + "): matches the log's first 3 events\n"; !strings.Contains(out, want) {
		t.Errorf("audit verify -head lacks %q:\n%s", want, out)
	}
	var got auditVerifyJSON
	decodeJSON(t, f.ok(t, false, "audit", "verify", "-json", "-head", head), &got)
	if !got.Verified || got.Events != 3 || got.Head == nil || got.Head.Events != 3 || got.Head.Error != "" || len(got.Chains) != 1 ||
		got.Chains[0].Case != f.ref || len(got.Held) != 1 || got.Held[0].File != head || got.TeamKey != f.fprs["team"] || len(got.Errors) != 0 {
		t.Errorf("JSON: %+v", got)
	}

	t.Run("errors", func(t *testing.T) {
		code, _, stderr := f.runNoKey(t, "audit", "verify", "-head", filepath.Join(t.TempDir(), "none"))
		mustFail(t, code, stderr, "-head: open")
		bad := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(bad, []byte("secgate audit head\nevents: 3\n"), 0o600)
		code, _, stderr = f.runNoKey(t, "audit", "verify", "-head", bad)
		mustFail(t, code, stderr, "want the fields events, hash and time")
		code, _, stderr = f.runNoKey(t, "audit", "verify", "extra")
		mustFail(t, code, stderr, "want no arguments")
	})

	// An attacker with the file rewrites the case's first event and
	// re-hashes the chain after it: the chain alone holds, the signed
	// head does not.
	f.tamper(t, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT seq, at, actor, action, detail, source FROM case_audit WHERE case_id = ? ORDER BY seq`, f.caseID)
		if err != nil {
			return err
		}
		var evs []cases.AuditEvent
		for rows.Next() {
			e := cases.AuditEvent{CaseID: f.caseID}
			var at int64
			if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Detail, &e.Source); err != nil {
				return err
			}
			e.At = store.Time(at)
			evs = append(evs, e)
		}
		rows.Close()
		evs[0].Detail = "case opened from a report by nobody"
		return rehashChain(tx, evs)
	})
	code, out, stderr := f.runNoKey(t, "audit", "verify")
	mustFail(t, code, stderr, "the audit log does not verify")
	for _, want := range []string{"  " + f.ref + "  3 events  ok\n", "signed head:  2030-01-02 09:30 UTC, 3 events: DOES NOT MATCH",
		"audit log: NOT VERIFIED:\n", "do not hash to the newest signed head", "the stored heads first disagree at event 1 (" + f.ref + " #1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit verify after the rewrite lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = f.runNoKey(t, "case", "show", f.ref)
	mustFail(t, code, stderr, "the audit log does not verify")
	if !strings.Contains(out, "audit chain: verified (3 events)\naudit log:   NOT VERIFIED: ") {
		t.Errorf("case show after the rewrite:\n%s", out)
	}
	var show caseShowJSON
	code, stdout, _ := f.runNoKey(t, "case", "show", f.ref, "-json")
	decodeJSON(t, stdout, &show)
	if code != 1 || show.AuditVerified || !strings.Contains(show.AuditError, "do not hash") || show.AuditHead == nil || show.AuditHead.Events != 3 {
		t.Errorf("case show -json after the rewrite: exit %d, %+v", code, show)
	}
	code, _, _ = f.runNoKey(t, "audit", "verify", "-head", head)
	if code != 1 {
		t.Errorf("audit verify -head after the rewrite: exit %d", code)
	}
}

// rehashChain writes evs (one case's events, in order) back with every
// link and hash recomputed, as an attacker who knows the algorithm (it is
// no secret: cases/audit.go) would.
func rehashChain(tx *sql.Tx, evs []cases.AuditEvent) error {
	prev := strings.Repeat("0", 64)
	for _, e := range evs {
		e.PrevHash = prev
		b, err := json.Marshal([]any{e.CaseID, e.Seq, store.Millis(e.At), e.Actor, e.Action, e.Detail, e.Source, e.PrevHash})
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		e.Hash = hex.EncodeToString(sum[:])
		if _, err := tx.Exec(`UPDATE case_audit SET detail = ?, prev_hash = ?, hash = ? WHERE case_id = ? AND seq = ?`,
			e.Detail, e.PrevHash, e.Hash, e.CaseID, e.Seq); err != nil {
			return err
		}
		prev = e.Hash
	}
	return nil
}

// TestAuditVerifyHeldHead: the tail cut together with the heads that cover
// it leaves a log that verifies on its own; the head a member kept shows
// the cut.
func TestAuditVerifyHeldHead(t *testing.T) {
	f := newFixture(t)
	head := f.savedHead(t)
	f.tamper(t, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM case_audit WHERE id = (SELECT max(id) FROM case_audit)`); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM audit_head WHERE events = 3`)
		return err
	})
	out := f.ok(t, false, "audit", "verify")
	if !strings.Contains(out, "audit log: verified against the signed head of 2030-01-02 09:30 UTC, 2 events") {
		t.Errorf("audit verify of the cut log:\n%s", out)
	}
	code, out, stderr := f.runNoKey(t, "audit", "verify", "-head", head)
	mustFail(t, code, stderr, "the audit log does not verify")
	if want := "held head:    2030-01-02 09:30 UTC, 3 events (" + head + "): DOES NOT MATCH"; !strings.Contains(out, want) ||
		!strings.Contains(out, "covers more events than the log holds (2)") {
		t.Errorf("audit verify -head lacks %q:\n%s", want, out)
	}
	// A head signed by another key is no head.
	forged := filepath.Join(t.TempDir(), "forged")
	b, _ := os.ReadFile(head)
	os.WriteFile(forged, []byte(strings.Replace(string(b), "events: 3", "events: 2", 1)), 0o600)
	code, out, _ = f.runNoKey(t, "audit", "verify", "-head", forged)
	if code != 1 || !strings.Contains(out, "is not signed by the team key") {
		t.Errorf("a changed head: exit %d\n%s", code, out)
	}
}

// TestAuditLegacyDatabase: a database from before signed heads says so,
// fails to verify until an operator signs it once with audit sign, and
// verifies after.
func TestAuditLegacyDatabase(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "upgrade-v9"))); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "secgate.toml")
	code, out, stderr := runCLI(t, nil, "audit", "verify", "-config", cfg)
	mustFail(t, code, stderr, "the audit log does not verify")
	if !strings.Contains(out, "signed head:  NONE: no signature covers these events") || !strings.Contains(out, "no signed head: none of the") {
		t.Errorf("audit verify of an old database:\n%s", out)
	}
	code, out, _ = runCLI(t, nil, "case", "list", "-config", cfg)
	if code != 0 {
		t.Fatalf("case list: exit %d", code)
	}
	ref := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out, stderr = runCLI(t, nil, "case", "show", ref, "-config", cfg)
	mustFail(t, code, stderr, "the audit log does not verify")
	if !strings.Contains(out, "audit chain: verified") || !strings.Contains(out, "audit log:   NOT VERIFIED: audit log not signed: no signed head") {
		t.Errorf("case show of an old database:\n%s", out)
	}
	code, out, stderr = runCLI(t, nil, "audit", "sign", "-config", cfg)
	if code != 0 || !strings.Contains(out, "signed the audit log as it is: head of ") || !strings.Contains(out, "taken on trust from now on") {
		t.Fatalf("audit sign: exit %d, %s%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, nil, "audit", "verify", "-config", cfg)
	if code != 0 || !strings.Contains(out, "audit log: verified against the signed head of ") {
		t.Errorf("audit verify after audit sign: exit %d, %s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, nil, "audit", "sign", "-config", cfg)
	if code != 0 || !strings.Contains(out, "nothing to sign") {
		t.Errorf("audit sign again: exit %d, %s", code, out)
	}
}

// TestKeyReportAuditHead: the weekly report carries the signed head, and
// is mailed for it even when no key needs attention.
func TestKeyReportAuditHead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg, team := f.gatewayConfig(t)
	g, err := openGateway(ctx, cfg, gatewayOptions{TeamKey: team})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r, err := makeAuditReport(ctx, g.workflow, team.Public(), false)
	if err != nil || r.broken {
		t.Fatalf("makeAuditReport = %+v, %v", r, err)
	}
	h, err := cases.ParseHead([]byte(r.text))
	if err != nil {
		t.Fatalf("the report's head does not parse: %v\n%s", err, r.text)
	}
	if chk, err := g.workflow.VerifyAuditLog(ctx, team.Public(), h); err != nil || chk.Err() != nil || h.Events != 3 {
		t.Fatalf("the report's head (%d events) does not verify: %v %v", h.Events, err, chk.Err())
	}

	for _, tc := range []struct {
		name, keys string
		audit      auditReport
		send       bool
		subject    string
		body       []string
	}{
		{"nothing", "", auditReport{}, false, "", nil},
		{"keys only", "Key report of 2030-01-02\n", auditReport{}, true, "Key report W: keys need attention",
			[]string{"Key report of 2030-01-02\n\nA recipient without a usable key gets nothing embargoed."}},
		{"head only", "", r, true, "Key report W: the audit head to keep",
			[]string{"No key needs attention", "secgate audit head\nevents: 3\n", "-----END PGP SIGNATURE-----\n"}},
		{"keys and head", "Key report of 2030-01-02\n", r, true, "Key report W: keys need attention",
			[]string{"Key report of 2030-01-02\n", "`secgate key report` prints this report.\n\nAudit head to keep"}},
		{"broken log", "", auditReport{text: "THE AUDIT LOG DOES NOT VERIFY\n", broken: true}, true,
			"Key report W: the audit log does not verify", []string{"THE AUDIT LOG DOES NOT VERIFY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subject, body, send := keyReportMail("W", tc.keys, tc.audit)
			if send != tc.send || subject != tc.subject {
				t.Errorf("keyReportMail = %q, %v; want %q, %v", subject, send, tc.subject, tc.send)
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}

	// After a rewrite the report says so, and still gives the genuine
	// head.
	if _, err := g.db.Writer().Exec(`DROP TRIGGER case_audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := g.db.Writer().Exec(`UPDATE case_audit SET detail = 'x' WHERE case_id = ? AND seq = 2`, f.caseID); err != nil {
		t.Fatal(err)
	}
	r, err = makeAuditReport(ctx, g.workflow, team.Public(), false)
	if err != nil || !r.broken || !strings.Contains(r.text, "THE AUDIT LOG DOES NOT VERIFY") || !strings.Contains(r.text, "event 2 was altered") ||
		!strings.Contains(r.text, "secgate audit head\nevents: 3\n") {
		t.Errorf("report of a rewritten log: %v\n%s", err, r.text)
	}
}
