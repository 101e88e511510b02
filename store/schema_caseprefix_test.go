package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrateCasePrefix: a database of version 14 (case numbers unique per
// year) opens with every case where it was, its id, reference and fields
// kept and its prefix taken from its reference, the rows that refer to it
// still joined to it; the new constraint numbers each prefix apart (KN
// from 1 beside SEC's 1) and still gives no number twice in one prefix.
func TestMigrateCasePrefix(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v14.db")
	old, err := openPool("file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations()[:14] {
		if _, err := old.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO cases (id, ref, year, seq, state, cve, cvss_score, reporter_addr, received, created, updated, details_enc)
			VALUES (3, 'SEC-2025-0007', 2025, 7, 'fix-committed', 'CVE-2025-1234', 9.1, 'rita@reporter.example', 1, 2, 3, x'0102')`,
		`INSERT INTO cases (id, ref, year, seq, state, received, created, updated) VALUES (5, 'SEC-2026-0001', 2026, 1, 'new', 4, 5, 6)`,
		`INSERT INTO case_team (case_id, fingerprint, added) VALUES (3, 'AAAA', 1)`,
		`INSERT INTO case_messages (id, case_id, kind, received, body_enc) VALUES (1, 5, 'report', 1, x'00')`,
		`INSERT INTO case_untrusted_line (case_id, line_hash) VALUES (5, x'01')`,
		`INSERT INTO case_audit (case_id, seq, at, actor, action, prev_hash, hash) VALUES (5, 1, 1, 'gateway', 'open', '', 'h')`,
		`PRAGMA user_version = 14`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open the version 14 database: %v", err)
	}
	defer db.Close()
	r := db.Reader()
	var v int
	r.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != len(migrations()) {
		t.Errorf("version %d, want %d", v, len(migrations()))
	}
	type row struct {
		ref, prefix, state, cve, addr string
		year, seq                     int
		score                         float64
		details                       []byte
	}
	want := map[int64]row{
		3: {"SEC-2025-0007", "SEC", "fix-committed", "CVE-2025-1234", "rita@reporter.example", 2025, 7, 9.1, []byte{1, 2}},
		5: {"SEC-2026-0001", "SEC", "new", "", "", 2026, 1, 0, nil},
	}
	rows, err := r.Query(`SELECT id, ref, prefix, state, cve, reporter_addr, year, seq, cvss_score, details_enc FROM cases ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int64
		var got row
		if err := rows.Scan(&id, &got.ref, &got.prefix, &got.state, &got.cve, &got.addr, &got.year, &got.seq, &got.score, &got.details); err != nil {
			t.Fatal(err)
		}
		n++
		w := want[id]
		if got.ref != w.ref || got.prefix != w.prefix || got.state != w.state || got.cve != w.cve || got.addr != w.addr ||
			got.year != w.year || got.seq != w.seq || got.score != w.score || string(got.details) != string(w.details) {
			t.Errorf("case %d after the migration: %+v, want %+v", id, got, w)
		}
	}
	rows.Close()
	if n != len(want) {
		t.Errorf("%d cases after the migration, want %d", n, len(want))
	}
	var joined int
	r.QueryRow(`SELECT (SELECT count(*) FROM case_team t JOIN cases c ON c.id = t.case_id AND c.ref = 'SEC-2025-0007')
		+ (SELECT count(*) FROM case_messages m JOIN cases c ON c.id = m.case_id AND c.ref = 'SEC-2026-0001')
		+ (SELECT count(*) FROM case_untrusted_line u JOIN cases c ON c.id = u.case_id AND c.ref = 'SEC-2026-0001')`).Scan(&joined)
	if joined != 3 {
		t.Errorf("%d of the 3 rows referring to a case still find it", joined)
	}
	if fk, err := r.Query(`PRAGMA foreign_key_check`); err != nil {
		t.Fatal(err)
	} else {
		if fk.Next() {
			t.Error("foreign_key_check reports a violation after the migration")
		}
		fk.Close()
	}

	w := db.Writer()
	if _, err := w.Exec(`INSERT INTO cases (ref, prefix, year, seq, state, received, created, updated) VALUES ('KN-2026-0001', 'KN', 2026, 1, 'new', 1, 1, 1)`); err != nil {
		t.Errorf("KN-2026-0001 beside SEC-2026-0001: %v", err)
	}
	if _, err := w.Exec(`INSERT INTO cases (ref, prefix, year, seq, state, received, created, updated) VALUES ('SEC-2026-0001b', 'SEC', 2026, 1, 'new', 1, 1, 1)`); err == nil {
		t.Error("a second SEC 2026 number 1 was accepted")
	}
	if _, err := w.Exec(`INSERT INTO case_team (case_id, fingerprint, added) VALUES (99, 'BBBB', 1)`); err == nil {
		t.Error("a row referring to no case was accepted: foreign keys are off after the migration")
	}
}
