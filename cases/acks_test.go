package cases

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// silentScheduler is the fake scheduler that also knows who has not
// acknowledged the case's notices.
type silentScheduler struct {
	*fakeScheduler
	lines []string
}

func (s silentScheduler) SilentLines(ctx context.Context, tx *sql.Tx, caseID int64) ([]string, error) {
	return s.lines, nil
}

// TestTeamSummarySilent: the members' summaries of a command mail and of a
// step of the timeline name the distributors who have not acknowledged a
// notice; none says so when everyone has.
func TestTeamSummarySilent(t *testing.T) {
	e := newEnv(t)
	c := e.open(true)
	alice := e.keys["alice@example.org"]
	silent := "psirt@vendor2.example: embargo notice, delivered 2026-11-20 09:31 UTC"
	e.wf.SetScheduler(silentScheduler{e.sched, []string{silent}})
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/cve CVE-2026-12345", e.clock.Now()))
	lastContains(t, "bob's summary", e.mailsTo("bob@example.org", MailTeamNote),
		"Not acknowledged yet (no reply signed by their key on file):\n  "+silent)
	if err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		return e.wf.TellStep(e.ctx, tx, c.ID, Step{What: "the pre-release notice went out", Changes: []string{"pre-release notice sent"}})
	}); err != nil {
		t.Fatal(err)
	}
	lastContains(t, "alice's summary of the step", e.mailsTo("alice@example.org", MailTeamNote), "  "+silent)

	e.wf.SetScheduler(silentScheduler{e.sched, nil})
	e.handle(e.signed("alice@example.org", alice, "["+c.Ref+"]", "/fixed 1.2.3", e.clock.Now()))
	notes := e.mailsTo("bob@example.org", MailTeamNote)
	if last := notes[len(notes)-1]; strings.Contains(last, "Not acknowledged") {
		t.Errorf("a summary names silent distributors when there are none:\n%s", last)
	}
}
