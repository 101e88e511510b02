package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// archivedNote is what mail naming an archived case is told about it: the
// case ended and was moved to the archive database, where `secgate case
// show -archive` shows it; mail cannot change it.
func archivedNote(ref string, at time.Time) string {
	return fmt.Sprintf("case %s ended and was moved to the archive on %s", ref, at.UTC().Format(time.DateOnly))
}

// Archived reports whether ref names a case of this project that was
// moved to the archive database (`secgate archive`), and when. Mail
// naming such a case is told so: a member's command is refused as naming
// an archived case rather than an unknown one, and a new report naming it
// opens a new case whose first audit event names the archived one.
func (w *Workflow) Archived(ctx context.Context, tx *sql.Tx, ref string) (time.Time, bool, error) {
	var q querier = w.db.Reader()
	if tx != nil {
		q = tx
	}
	return archivedAt(ctx, q, ref)
}

func archivedAt(ctx context.Context, q querier, ref string) (time.Time, bool, error) {
	var at int64
	err := q.QueryRowContext(ctx, `SELECT archived FROM archived_case WHERE ref = ?`, ref).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cases: archived %s: %w", ref, err)
	}
	return store.Time(at), true, nil
}
