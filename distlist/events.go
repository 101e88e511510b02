package distlist

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/secgate/secgate/store"
)

// An event is written in the transaction that records what caused it
// (outbox_event), so that the team is told of it even if the gateway stops
// right after: the application reads the events not yet told
// (UntoldEvents) and marks each told in the transaction that queues its
// alert (MarkTold). OnEvent only wakes it.

// insertEvent records e inside tx and sets e.ID.
func insertEvent(ctx context.Context, tx *sql.Tx, e *Event, now int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox_event (kind, outbox_id, notice_id, case_id, recipient, reason, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.Kind, e.RowID, e.NoticeID, e.CaseID, e.Recipient, e.Reason, now)
	if err != nil {
		return fmt.Errorf("distlist: record %s event of row %d: %w", e.Kind, e.RowID, err)
	}
	e.ID, err = res.LastInsertId()
	return err
}

// UntoldEvents returns up to limit events after event ID after (0: from
// the first) that the team has not been told of, oldest first.
func (o *Outbox) UntoldEvents(ctx context.Context, after int64, limit int) ([]Event, error) {
	rows, err := o.db.Reader().QueryContext(ctx, `SELECT id, kind, outbox_id, notice_id, case_id, recipient, reason
		FROM outbox_event WHERE told = 0 AND id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("distlist: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.ID, &e.Kind, &e.RowID, &e.NoticeID, &e.CaseID, &e.Recipient, &e.Reason); err != nil {
			return nil, fmt.Errorf("distlist: events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MarkTold marks event id told inside tx, the transaction that queues its
// alert; it reports false when it was told already (by a concurrent
// alerter), and the caller then rolls back.
func (o *Outbox) MarkTold(ctx context.Context, tx *sql.Tx, id int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE outbox_event SET told = ? WHERE id = ? AND told = 0`, store.Millis(o.clock.Now()), id)
	if err != nil {
		return false, fmt.Errorf("distlist: event %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
