package cases

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestMailNamingArchivedCase: once a case is archived, a member's signed
// command naming it is refused as naming an archived case (not an unknown
// one) and changes nothing; a new report naming it opens a new case whose
// first event names the archived one; Archived reports the move.
func TestMailNamingArchivedCase(t *testing.T) {
	e := newArchiveEnv(t)
	done := e.ended([]byte("small"))
	other := e.open(false) // a live case, for refusalCheck's before/after
	e.clock.Advance(48 * time.Hour)
	if res, err := e.arc.Move(e.ctx, done.ID, e.clock.Now()); err != nil || res.Hold != "" {
		t.Fatalf("move: %+v, %v", res, err)
	}
	archivedOn := e.clock.Now().UTC().Format(time.DateOnly)
	at, ok, err := e.wf.Archived(e.ctx, nil, done.Ref)
	if err != nil || !ok || !at.Equal(e.clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("Archived(%s) = %v, %v, %v; want the time of the move", done.Ref, at, ok, err)
	}
	if _, ok, err := e.wf.Archived(e.ctx, nil, other.Ref); ok || err != nil {
		t.Errorf("Archived(%s), a live case = %v, %v", other.Ref, ok, err)
	}

	alice := e.keys["alice@example.org"]
	m := e.signed("alice@example.org", alice, "["+done.Ref+"] again", "/case "+done.Ref+"\n/status confirmed", e.clock.Now())
	refusalCheck(t, e.env, other, m, "case "+done.Ref+" ended and was moved to the archive on "+archivedOn+": mail cannot change it", "alice@example.org", true)
	if n := e.count(e.db, `SELECT count(*) FROM cases WHERE ref = ?`, done.Ref); n != 0 {
		t.Errorf("the refused command brought %s back", done.Ref)
	}

	var c *Case
	err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		c, err = e.wf.OpenCase(e.ctx, tx, Report{MessageID: "<back@reporter.example>", From: "rita@reporter.example",
			Subject: "Re: [" + done.Ref + "] it is back", Text: "the old bug is back", Received: e.clock.Now(), Archived: done.Ref})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Ref == done.Ref {
		t.Fatalf("the new report took the archived case's reference %s", c.Ref)
	}
	events := e.audit(c.ID)
	if len(events) == 0 || !strings.Contains(events[0], "it names case "+done.Ref+" ended and was moved to the archive on "+archivedOn) {
		t.Errorf("the new case's first event does not name the archived case: %q", events)
	}
}
