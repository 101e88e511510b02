package intake

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/secgate/secgate/store"
)

// TestCasesPerDayInGroup: the cases a sender opened today are counted
// with the replay identities, in the group's transaction: reports from
// one sender in one group open cases up to new_cases_per_day and the rest
// are held, encrypted or in clear, handed over or read back.
func TestCasesPerDayInGroup(t *testing.T) {
	for _, tc := range []struct {
		name      string
		encrypted bool
		handOver  bool
	}{
		{"encrypted, handed over", true, true},
		{"encrypted, read back", true, false},
		{"in clear, handed over", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBenchEnv(t)
			o := e.proc.o
			o.Config.NewCasesPerDay, o.Config.RateLimit = 2, 1000
			proc := NewProcessor(o)
			ctx := store.ShortStatements(context.Background())
			msgs := make([]fetched, 5)
			for i := range msgs {
				raw := e.report(t, i)
				if !tc.encrypted {
					raw = fmt.Appendf(nil, "From: reporter-%d@outside.example\r\nTo: security@example.test\r\nSubject: report %d\r\nMessage-ID: <clear-%d@outside.example>\r\n"+
						"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nReport number %d in clear.\r\n", i, i, i, i)
				}
				raw = bytes.Replace(raw, fmt.Appendf(nil, "reporter-%d@", i), []byte("same@"), 1)
				msgs[i] = fetched{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}
			}
			ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, msgs, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if tc.handOver {
				err = proc.processStored(ctx, ids, handedOver(msgs, ids))
			} else {
				err = proc.ProcessBatch(ctx, ids)
			}
			if err != nil {
				t.Fatal(err)
			}
			var reports, held, alerts int
			if err := e.db.Reader().QueryRow(`SELECT count(*) FILTER (WHERE class = 'report'), count(*) FILTER (WHERE class = 'limit' AND reason LIKE '%new_cases_per_day%'),
				(SELECT count(*) FROM inbound_answer WHERE kind = 'new-case-brake') FROM inbound`).Scan(&reports, &held, &alerts); err != nil {
				t.Fatal(err)
			}
			if reports != 2 || held != 3 || alerts != 1 {
				t.Errorf("%d reports opened cases, %d held, the team alerted %d times; want 2, 3, 1", reports, held, alerts)
			}
		})
	}
}
