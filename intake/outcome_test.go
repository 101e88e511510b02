package intake

import (
	"context"
	"testing"

	"github.com/secgate/secgate/store"
)

// TestHandledMeanwhile: a report whose row was handled by another run
// after it was handed over (its copy says stored) leaves nothing behind,
// alone or in a group: no case, no mail, its row as the other run left
// it; the others of its group open their cases.
func TestHandledMeanwhile(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(map[int]string{1: "alone", 3: "in a group"}[n], func(t *testing.T) {
			e := newBenchEnv(t)
			ctx := store.ShortStatements(context.Background())
			msgs, ids := e.storeReports(t, ctx, n)
			given := handedOver(msgs, ids)
			other := ids[n/2]
			if _, err := e.db.Writer().Exec(`UPDATE inbound SET state = 'processed', class = 'elsewhere', reason = 'the other run' WHERE id = ?`, other); err != nil {
				t.Fatal(err)
			}
			if err := e.proc.processStored(ctx, ids, given); err != nil {
				t.Fatal(err)
			}
			r := e.db.Reader()
			var cases, mails int
			if err := r.QueryRow(`SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM outbox)`).Scan(&cases, &mails); err != nil {
				t.Fatal(err)
			}
			if cases != n-1 || mails != 3*(n-1) {
				t.Errorf("%d cases and %d mails queued, want %d and %d: the report handled meanwhile was handled again", cases, mails, n-1, 3*(n-1))
			}
			in, err := getInbound(ctx, r, other)
			if err != nil {
				t.Fatal(err)
			}
			if in.Class != "elsewhere" || in.Reason != "the other run" || in.CaseID != 0 {
				t.Errorf("the row handled meanwhile: %s %q case %d, want it as the other run left it", in.Class, in.Reason, in.CaseID)
			}
		})
	}
}
