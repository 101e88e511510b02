package distlist

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestPlanChanged: the notices of a plan that changed while they waited in
// the outbox (a slow server, a crash) never go out with what they said: a
// withdrawn plan's are withdrawn, and a date moved earlier is their new
// deadline, past which they end missed.
func TestPlanChanged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	k := testKey(t, "d@distro.example", "x25519", false)
	queue := func(notice string, caseID int64, t0 time.Time) {
		t.Helper()
		e.enqueue(Mail{Kind: "embargo-notice", CaseID: caseID, NoticeID: notice, Encrypt: true, ValidThrough: t0,
			Content: textContent("s", "b"), Recipients: []Recipient{{Address: "d@distro.example", Key: k.Public()}}})
	}
	queue("withdrawn", 1, t0.Add(21*24*time.Hour))
	queue("moved", 2, t0.Add(21*24*time.Hour))
	queue("other", 3, t0.Add(21*24*time.Hour))
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		if n, err := e.ob.Withdraw(ctx, tx, 1, []string{"embargo-notice"}, "the case is invalid"); err != nil || n != 1 {
			t.Errorf("withdraw: %d rows, %v", n, err)
		}
		if n, err := e.ob.Deadline(ctx, tx, 2, []string{"embargo-notice"}, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("deadline: %d rows, %v", n, err)
		}
		// A later date leaves a row's deadline alone.
		if n, err := e.ob.Deadline(ctx, tx, 3, []string{"embargo-notice"}, t0.Add(30*24*time.Hour)); err != nil || n != 0 {
			t.Errorf("a later deadline changed %d rows, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour) // past the new date of "moved"
	if err := e.ob.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for notice, want := range map[string]string{"withdrawn": "withdrawn: the case is invalid", "moved": "missed:", "other": ""} {
		r := e.rows(notice)["d@distro.example"]
		switch {
		case want == "" && r.State != StateSent:
			t.Errorf("%s: %s %q, want sent", notice, r.State, r.Reply)
		case want != "" && (r.State != StateFailed || !strings.HasPrefix(r.Reply, want)):
			t.Errorf("%s: %s %q, want failed %q", notice, r.State, r.Reply, want)
		}
	}
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("%d messages reached the server, want only the notice whose plan stands", n)
	}
}
