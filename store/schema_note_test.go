package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSecurityNoteSchema: a security note ID is never given twice (one
// prefix, year and number; one ID; one note per case), and a disclosure
// plan records the reporter's consent.
func TestSecurityNoteSchema(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := db.Writer()
	if _, err := w.Exec(`INSERT INTO security_note (id, prefix, year, seq, case_id, published) VALUES ('KCSN-2026-001', 'KCSN', 2026, 1, 7, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, q string
	}{
		{"same number", `INSERT INTO security_note (id, prefix, year, seq, case_id, published) VALUES ('KCSN-2026-0001', 'KCSN', 2026, 1, 8, 1)`},
		{"same ID", `INSERT INTO security_note (id, prefix, year, seq, case_id, published) VALUES ('KCSN-2026-001', 'KCSN', 2026, 2, 8, 1)`},
		{"same case", `INSERT INTO security_note (id, prefix, year, seq, case_id, published) VALUES ('KCSN-2026-002', 'KCSN', 2026, 2, 7, 1)`},
	} {
		if _, err := w.Exec(tc.q); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := w.Exec(`INSERT INTO schedule_plan (case_id, policy, t0, notice_at, generation, created, updated,
		consent_asked, consent_t0, consent, consent_code) VALUES (7, 'kata', 1, 1, 1, 1, 1, 5, 1, '', 'h')`); err != nil {
		t.Errorf("plan with the consent columns: %v", err)
	}
}
