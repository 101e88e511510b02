package intake

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/secgate/secgate/store"
)

// recordOutcome records m's outcome in tx, in the one statement that also
// checks that m still awaits processing: errAlreadyDone when it does not
// (another run handled it), for finish to roll back what the transaction
// wrote for it. Checked after the effects rather than read before them,
// it saves a statement a message; a message handled meanwhile, which
// happens only when two runs race, has had its effects made for nothing.
func (m *msgCtx) recordOutcome(ctx context.Context, tx *sql.Tx, o outcome, caseID any) error {
	res, err := tx.ExecContext(ctx, `UPDATE inbound SET state = ?, class = ?, reason = ?, case_id = ?, processed = ?
		WHERE id = ? AND state IN ('stored', 'released')`,
		o.state, o.class, o.reason, caseID, store.Millis(m.now), m.in.ID)
	if err != nil {
		return fmt.Errorf("intake: record outcome of %d: %w", m.in.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("intake: record outcome of %d: %w", m.in.ID, err)
	}
	if n == 0 {
		return errAlreadyDone
	}
	return nil
}
