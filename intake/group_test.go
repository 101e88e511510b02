package intake

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

// groupFailing fails to open the case of one sender's report, the first
// times times.
type groupFailing struct {
	*WorkflowAdapter
	from  string
	times int
}

func (f *groupFailing) OpenCase(ctx context.Context, tx *sql.Tx, r Report) (CaseInfo, error) {
	if r.From == f.from && f.times > 0 {
		f.times--
		// Something written first, which must not stay.
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_answer (sender, kind, at) VALUES (?, 'failing', 1)`, r.From); err != nil {
			return CaseInfo{}, err
		}
		return CaseInfo{}, errors.New("the workflow failed")
	}
	return f.WorkflowAdapter.OpenCase(ctx, tx, r)
}

// TestGroupMessageFails: a group of reports runs without savepoints; one
// that fails rolls the group back and it runs again in savepoints, so
// that the others still commit together and nothing of the failed one
// stays (no row it wrote, no mail), whether it then succeeds on its own
// or is quarantined with the error.
func TestGroupMessageFails(t *testing.T) {
	tests := []struct {
		name      string
		times     int // how many times the second report's case fails to open
		wantCases int
		wantHeld  bool
	}{
		{"none fails", 0, 3, false},
		{"one fails once", 1, 3, false},
		{"one fails in the group and once alone", 2, 3, false},
		{"one fails every time", 100, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newBenchEnv(t)
			o := e.proc.o
			fc := &groupFailing{WorkflowAdapter: o.Cases.(*WorkflowAdapter), from: "reporter-1@outside.example", times: tc.times}
			o.Cases = fc
			proc := NewProcessor(o)
			ctx := store.ShortStatements(context.Background())
			msgs, ids := e.storeReports(t, ctx, 3)
			if err := proc.processStored(ctx, ids, handedOver(msgs, ids)); err != nil {
				t.Fatal(err)
			}
			r := e.db.Reader()
			var cases, acks, copies, written int
			if err := r.QueryRow(`SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM outbox WHERE kind = 'ack'),
				(SELECT count(*) FROM outbox WHERE kind != 'ack'), (SELECT count(*) FROM inbound_answer WHERE kind = 'failing')`).
				Scan(&cases, &acks, &copies, &written); err != nil {
				t.Fatal(err)
			}
			if cases != tc.wantCases || acks != tc.wantCases || copies != 2*tc.wantCases || written != 0 {
				t.Errorf("%d cases, %d acknowledgements, %d team copies, %d rows of failed attempts; want %d, %d, %d, 0",
					cases, acks, copies, written, tc.wantCases, tc.wantCases, 2*tc.wantCases)
			}
			for i, id := range ids {
				in, err := getInbound(ctx, r, id)
				if err != nil {
					t.Fatal(err)
				}
				held := i == 1 && tc.wantHeld
				switch {
				case held && (in.State != StateQuarantined || in.Class != ClassError || !strings.Contains(in.Reason, "the workflow failed")):
					t.Errorf("report %d: %s %s %q, want it quarantined with the error", i, in.State, in.Class, in.Reason)
				case !held && (in.State != StateProcessed || in.Class != ClassReport || in.CaseID == 0):
					t.Errorf("report %d: %s %s %q, want a report with its case", i, in.State, in.Class, in.Reason)
				}
			}
		})
	}
}
