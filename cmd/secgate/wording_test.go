package main

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

// TestCaseShowWording: every table of `case show` has a header over each
// column (the messages' ARRIVED, in clear or encrypted, among them), no
// count of one reads as a plural, and a credit whose consent has not been
// answered is not called "not asked": the acknowledgement asks every
// reporter.
func TestCaseShowWording(t *testing.T) {
	f := newFixture(t)
	cfg, err := LoadConfig(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE cases SET credit = 'Rita R.', credit_consent = '' WHERE id = ?`, f.caseID)
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := f.ok(t, false, "case", "show", f.ref)
	if !strings.Contains(out, "credit:         Rita R. (consent: no answer recorded yet)\n") {
		t.Errorf("the credit's consent:\n%s", out)
	}
	for _, table := range []struct{ title, header string }{
		{"messages (1):", "ID RECEIVED KIND FROM ARRIVED ATTACHMENTS"},
		{"audit events:", "TIME ACTOR ACTION DETAIL"},
	} {
		_, rest, ok := strings.Cut(out, "\n"+table.title+"\n")
		if !ok {
			t.Fatalf("no %q table:\n%s", table.title, out)
		}
		lines := strings.Split(rest, "\n")
		if got := strings.Join(strings.Fields(lines[0]), " "); got != table.header {
			t.Errorf("%s header %q, want %q", table.title, got, table.header)
		}
		// Each row has as many columns (runs of two or more spaces apart)
		// as the header has names, but the last, free text.
		cols := len(strings.Fields(table.header))
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "  (") {
				break
			}
			if n := len(regexp.MustCompile(`\S(  +)\S`).FindAllString(strings.TrimSpace(l), -1)) + 1; n < cols {
				t.Errorf("%s row %q has %d columns, the header %d", table.title, l, n, cols)
			}
		}
	}
	if m := regexp.MustCompile(`\b1 [a-z]+s\b`).FindString(out); m != "" {
		t.Errorf("case show says %q:\n%s", m, out)
	}
}
