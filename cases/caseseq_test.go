package cases

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

// caseSeqDB is a database holding, for prefix SEC in 2026, the case
// numbers live and the numbers archived, and a case of another prefix
// and of another year numbered higher than all.
func caseSeqDB(t testing.TB, live, archived []int) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "seq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		for _, c := range []struct {
			prefix string
			year   int
			seq    int
		}{{"OTHER", 2026, 900}, {"SEC", 2025, 800}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cases (ref, prefix, year, seq, state, received, created, updated) VALUES (?, ?, ?, ?, 'triage', 0, 0, 0)`,
				fmt.Sprintf("%s-%d-%04d", c.prefix, c.year, c.seq), c.prefix, c.year, c.seq); err != nil {
				return err
			}
		}
		for _, n := range live {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cases (ref, prefix, year, seq, state, received, created, updated) VALUES (?, 'SEC', 2026, ?, 'triage', 0, 0, 0)`,
				fmt.Sprintf("SEC-2026-%04d", n), n); err != nil {
				return err
			}
		}
		for _, n := range archived {
			if _, err := tx.ExecContext(ctx, `INSERT INTO archived_case (ref, prefix, year, seq, closed, digest, archived) VALUES (?, 'SEC', 2026, ?, 0, '', 0)`,
				fmt.Sprintf("SEC-2026-%04d", n), n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestNextCaseSeq: a new case's number follows the highest of the year
// and prefix, live or archived, and reads each table's highest number off
// its index rather than every case of the year.
func TestNextCaseSeq(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name           string
		live, archived []int
		want           int
	}{
		{"first of the year", nil, nil, 1},
		{"after live cases", []int{1, 2, 3}, nil, 4},
		{"after an archived case numbered higher", []int{1, 2, 3}, []int{7}, 8},
		{"after live cases numbered higher than the archived", []int{5, 9}, []int{1, 2}, 10},
		{"all archived", nil, []int{1, 2, 3}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := caseSeqDB(t, tt.live, tt.archived)
			var got int
			var rota string
			if err := db.Reader().QueryRowContext(ctx, openCaseReads, "SEC", 2026).Scan(&rota, &got); err != nil || got != tt.want {
				t.Errorf("next number %d (%v), want %d", got, err, tt.want)
			}
		})
	}
	plan, err := store.QueryPlan(ctx, caseSeqDB(t, nil, nil).Reader(), openCaseReads, "SEC", 2026)
	if err != nil {
		t.Fatal(err)
	}
	// The rota's last lead off its index, then each table's max().
	if strings.Contains(plan, "COMPOUND") || strings.Contains(plan, "CO-ROUTINE") || strings.Count(plan, "SCALAR SUBQUERY") != 3 {
		t.Errorf("plan %q: want each table's max() on its own", plan)
	}
	if !strings.Contains(plan, "COVERING INDEX cases_rota_lead") {
		t.Errorf("plan %q: want the rota's last lead read off index cases_rota_lead", plan)
	}
}

// TestOpenCaseReadsRota: the rota's last lead is that of the newest case
// the rota gave one, empty when it gave none, read with the number.
func TestOpenCaseReadsRota(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		leads []string // of cases SEC-2026-0001, -0002, ...
		want  string
	}{
		{"no case", nil, ""},
		{"none given", []string{"", ""}, ""},
		{"the newest", []string{"AAAA", "BBBB"}, "BBBB"},
		{"the newest given", []string{"AAAA", "BBBB", ""}, "BBBB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seqs := make([]int, len(tt.leads))
			for i := range seqs {
				seqs[i] = i + 1
			}
			db := caseSeqDB(t, seqs, nil)
			for i, lead := range tt.leads {
				if _, err := db.Writer().ExecContext(ctx, `UPDATE cases SET rota_lead = ? WHERE prefix = 'SEC' AND year = 2026 AND seq = ?`, lead, i+1); err != nil {
					t.Fatal(err)
				}
			}
			var rota string
			var seq int
			if err := db.Reader().QueryRowContext(ctx, openCaseReads, "SEC", 2026).Scan(&rota, &seq); err != nil || rota != tt.want || seq != len(tt.leads)+1 {
				t.Errorf("rota %q, number %d (%v), want %q and %d", rota, seq, err, tt.want, len(tt.leads)+1)
			}
		})
	}
}

// BenchmarkNextCaseSeq numbers a case, and reads the rota's last lead, in
// a year of 10 cases and of 5,000 to which the rota gave no lead: the cost
// does not grow with the year's cases.
func BenchmarkNextCaseSeq(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 5000} {
		live := make([]int, n)
		for i := range live {
			live[i] = i + 1
		}
		db := caseSeqDB(b, live, []int{1})
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				var seq int
				var rota string
				if err := db.Reader().QueryRowContext(ctx, openCaseReads, "SEC", 2026).Scan(&rota, &seq); err != nil || seq != n+1 {
					b.Fatal(seq, err)
				}
			}
		})
	}
}
