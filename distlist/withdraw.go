package distlist

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// Withdraw ends the waiting rows (queued or deferred) of case caseID's mail
// of the given kinds, in tx: the plan they belonged to changed or ended (a
// case withdrawn, an embargo broken, a new date), so they must never go
// out. They end failed with a reply starting "withdrawn:". Rows being sent
// are in flight and go on. It returns how many rows it ended.
func (o *Outbox) Withdraw(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, reason string) (int64, error) {
	if len(kinds) == 0 {
		return 0, nil
	}
	js, err := json.Marshal(kinds)
	if err != nil {
		return 0, err
	}
	now := store.Millis(o.clock.Now())
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_reply = ?, finished = ?
		WHERE case_id = ? AND state IN ('queued', 'deferred') AND kind IN (SELECT value FROM json_each(?))`,
		"withdrawn: "+headerSafe(reason), now, caseID, string(js))
	if err != nil {
		return 0, fmt.Errorf("distlist: withdraw the mail of case %d: %w", caseID, err)
	}
	return res.RowsAffected()
}

// Deadline brings the disclosure time of case caseID's waiting rows of
// kinds forward to t0 when it was later: a notice of a plan whose date
// moved earlier must not go out after the new date (the deadline check
// before each send then ends it missed). It returns how many rows it
// changed.
func (o *Outbox) Deadline(ctx context.Context, tx *sql.Tx, caseID int64, kinds []string, t0 time.Time) (int64, error) {
	if len(kinds) == 0 || t0.IsZero() {
		return 0, nil
	}
	js, err := json.Marshal(kinds)
	if err != nil {
		return 0, err
	}
	at := store.Millis(t0)
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET valid_through = ?
		WHERE case_id = ? AND state IN ('queued', 'deferred') AND kind IN (SELECT value FROM json_each(?))
		AND (valid_through = 0 OR valid_through > ?)`, at, caseID, string(js), at)
	if err != nil {
		return 0, fmt.Errorf("distlist: deadline of the mail of case %d: %w", caseID, err)
	}
	return res.RowsAffected()
}
