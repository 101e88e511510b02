package distlist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestNoticeNeverAfterT0: an embargo or pre-release notice whose
// disclosure time has passed is never sent, whether it is sent for the
// first time, resumed after a crash or retried after a deferral: nothing
// reaches the server, the row ends missed and the team is told. A notice
// without a disclosure time (an embargo-broken one) and other mail whose
// keys were checked through an earlier time still go.
func TestNoticeNeverAfterT0(t *testing.T) {
	ctx := context.Background()
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	tests := []struct {
		name    string
		kind    string
		through time.Time // the row's valid_through: the notice's T0
		rcpt    string
		before  func(e *env) // between enqueue and T0 passing
		missed  bool
	}{
		{name: "pre-release notice", kind: "prerelease-notice", through: t0.Add(30 * time.Second), missed: true},
		{name: "embargo notice", kind: "embargo-notice", through: t0.Add(30 * time.Second), missed: true},
		{name: "resumed after a crash", kind: "prerelease-notice", through: t0.Add(30 * time.Second), missed: true,
			before: func(e *env) {
				// Claimed (committed as sending), then the gateway stops.
				if jobs, _, err := e.ob.claim(ctx, 10); err != nil || len(jobs) != 1 {
					e.t.Fatalf("claim: %d rows, %v", len(jobs), err)
				}
				ob, err := NewOutbox(ctx, OutboxOptions{DB: e.db, Directory: e.dir, TeamKey: e.team, Config: e.cfg, Clock: e.clock,
					OnEvent: e.ob.onEvent})
				if err != nil {
					e.t.Fatal(err)
				}
				e.ob = ob
			}},
		{name: "retried after a deferral", kind: "prerelease-notice", through: t0.Add(30 * time.Second), rcpt: "temperror.once@sink.example", missed: true,
			before: func(e *env) {
				e.drain()
				if r := e.rows("n")["temperror.once@sink.example"]; r.State != StateDeferred {
					e.t.Fatalf("first attempt: %+v", r)
				}
			}},
		{name: "embargo-broken notice", kind: "embargo-notice"},
		{name: "alert checked through an hour", kind: "alert", through: t0.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smtpsink.Options{}, nil)
			rcpt := tt.rcpt
			if rcpt == "" {
				rcpt = "alice@distro-a.example"
			}
			e.enqueue(Mail{Kind: tt.kind, CaseID: 7, NoticeID: "n", Encrypt: true, ValidThrough: tt.through,
				Content: textContent("[SEC-2026-0007] Pre-release", "Public at T0."), Recipients: []Recipient{{Address: rcpt, Key: ka.Public()}}})
			if tt.before != nil {
				tt.before(e)
			}
			rcpts := e.sink.Attempts(rcpt)
			e.clock.Advance(2 * time.Hour)
			e.drain()
			r := e.rows("n")[rcpt]
			if !tt.missed {
				if r.State != StateSent || e.sink.Len() != 1 {
					t.Fatalf("row %+v, %d messages; want it sent", r, e.sink.Len())
				}
				return
			}
			if n := e.sink.Len(); n != 0 {
				t.Fatalf("%d messages reached the server after T0", n)
			}
			if n := e.sink.Attempts(rcpt) - rcpts; n != 0 {
				t.Errorf("the recipient was given to the server %d times after T0, want none: the notice is missed before dialing", n)
			}
			if r.State != StateFailed || !strings.HasPrefix(r.Reply, "missed:") {
				t.Errorf("row %+v, want it failed as missed", r)
			}
			evs, err := e.ob.UntoldEvents(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Kind != EventMissed || evs[0].RowID != r.ID || evs[0].CaseID != 7 {
				t.Errorf("events %+v, want one %s for the row", evs, EventMissed)
			}
		})
	}
}

// TestNoticeMissedDuringTransaction: the disclosure time passes while the
// server is slow to accept the recipient: DATA is never sent.
func TestNoticeMissedDuringTransaction(t *testing.T) {
	const rcpt = "timeout@sink.example"
	e := newEnv(t, smtpsink.Options{Delay: time.Second}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	e.enqueue(Mail{Kind: "prerelease-notice", CaseID: 7, NoticeID: "n", Encrypt: true, ValidThrough: t0.Add(30 * time.Second),
		Content: textContent("[SEC-2026-0007] Pre-release", "Public at T0."), Recipients: []Recipient{{Address: rcpt, Key: ka.Public()}}})
	done := make(chan error)
	go func() { done <- e.ob.Flush(context.Background()) }()
	for deadline := time.Now().Add(10 * time.Second); e.sink.Attempts(rcpt) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the recipient was never given to the server")
		}
	}
	e.clock.Advance(time.Minute) // while the server answers RCPT
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.sink.Len(); n != 0 {
		t.Fatalf("%d messages reached the server after T0", n)
	}
	if r := e.rows("n")[rcpt]; r.State != StateFailed || !strings.HasPrefix(r.Reply, "missed:") {
		t.Errorf("row %+v, want it failed as missed", r)
	}
	if e.sink.Resets() == 0 {
		t.Error("the transaction was not reset")
	}
}
