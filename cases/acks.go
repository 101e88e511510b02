package cases

import (
	"context"
	"database/sql"
)

// SilentLister is implemented by a Scheduler that knows who has not
// acknowledged a notice of a case (a reply signed by their key on file):
// the team's summaries name them, one line each.
type SilentLister interface {
	SilentLines(ctx context.Context, tx *sql.Tx, caseID int64) ([]string, error)
}

// silent returns the lines naming the silent recipients of case caseID's
// notices, nil when the scheduler does not know them.
func (w *Workflow) silent(ctx context.Context, tx *sql.Tx, caseID int64) ([]string, error) {
	sl, ok := w.scheduler().(SilentLister)
	if !ok {
		return nil, nil
	}
	return sl.SilentLines(ctx, tx, caseID)
}
