package distlist

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestCaseDeliveries reads back each way a row of a case can end, with the
// time that goes with it: the server's 250 for mail sent (kept when a DSN
// bounces it later), the last attempt of a deferred row, the end of a row
// that failed, was missed or was withdrawn, the queueing of one not tried.
func TestCaseDeliveries(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	k := testKey(t, "d@distro.example", "x25519", false)
	queued := t0
	e.enqueue(Mail{Kind: "announcement", CaseID: 7, NoticeID: "ann", Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "ok@list.example"}, {Address: "temperror@list.example"},
			{Address: "permerror@list.example"}, {Address: "gone@list.example"}}})
	e.enqueue(Mail{Kind: "embargo-notice", CaseID: 7, NoticeID: "late", Encrypt: true, ValidThrough: t0.Add(time.Minute),
		Content: textContent("s", "b"), Recipients: []Recipient{{Address: "d@distro.example", Key: k.Public()}}})
	e.enqueue(Mail{Kind: "prerelease-notice", CaseID: 7, NoticeID: "old", Encrypt: true, ValidThrough: t0.Add(time.Hour),
		Content: textContent("s", "b"), Recipients: []Recipient{{Address: "d@distro.example", Key: k.Public()}}})
	e.enqueue(Mail{Kind: "announcement", CaseID: 8, NoticeID: "other", Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "ok@list.example"}}})

	withdrawn := t0.Add(10 * time.Second)
	e.clock.Set(withdrawn)
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := e.ob.Withdraw(ctx, tx, 7, []string{"prerelease-notice"}, "re-planned")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt comes two minutes later: the embargo notice's
	// disclosure time has passed by then.
	sent := t0.Add(2 * time.Minute)
	e.clock.Set(sent)
	e.drain()
	bounced := t0.Add(time.Hour)
	e.clock.Set(bounced)
	row := e.rows("ann")["gone@list.example"]
	to := envelopeFrom(e.ob.cfg.Bounce, verpToken(e.ob.secret, "ann", "gone@list.example"))
	if ok, err := e.ob.HandleDSN(ctx, dsnFor(t, to, "gone@list.example", "failed", "5.1.1", row.MessageID)); !ok || err != nil {
		t.Fatalf("DSN: %v %v", ok, err)
	}
	later := t0.Add(2 * time.Hour)
	e.clock.Set(later)
	e.enqueue(Mail{Kind: "announcement", CaseID: 7, NoticeID: "new", Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "lead@example.org"}}})

	ds, err := CaseDeliveries(ctx, e.db, 7)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ notice, rcpt string }
	got := map[key]Delivery{}
	for _, d := range ds {
		if d.CaseID != 7 {
			t.Errorf("row %d of case %d", d.ID, d.CaseID)
		}
		got[key{d.NoticeID, d.Recipient}] = d
	}
	tests := []struct {
		notice, rcpt string
		outcome      string
		at, sent     time.Time
	}{
		{"ann", "ok@list.example", StateSent, sent, sent},
		{"ann", "temperror@list.example", StateDeferred, sent, time.Time{}},
		{"ann", "permerror@list.example", StateFailed, sent, time.Time{}},
		{"ann", "gone@list.example", StateBounced, bounced, sent},
		{"late", "d@distro.example", OutcomeMissed, sent, time.Time{}},
		{"old", "d@distro.example", OutcomeWithdrawn, withdrawn, time.Time{}},
		{"new", "lead@example.org", StateQueued, later, time.Time{}},
	}
	if len(ds) != len(tests) {
		t.Errorf("%d deliveries, want %d: %+v", len(ds), len(tests), ds)
	}
	for _, tt := range tests {
		d, ok := got[key{tt.notice, tt.rcpt}]
		switch {
		case !ok:
			t.Errorf("%s to %s: missing", tt.notice, tt.rcpt)
		case d.Outcome != tt.outcome || !d.At().Equal(tt.at) || !d.Sent.Equal(tt.sent):
			t.Errorf("%s to %s: %s at %v, sent %v (%s %q); want %s at %v, sent %v", tt.notice, tt.rcpt,
				d.Outcome, d.At(), d.Sent, d.State, d.LastReply, tt.outcome, tt.at, tt.sent)
		}
	}
	if d := got[key{"ann", "ok@list.example"}]; d.LastCode != 250 || d.Created != queued {
		t.Errorf("sent row: code %d, created %v", d.LastCode, d.Created)
	}
}
