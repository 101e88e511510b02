package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// Row is an outbox row as the operator sees it (without the message).
type Row struct {
	ID          int64
	NoticeID    string
	Kind        string
	CaseID      int64
	Recipient   string
	Fingerprint string
	Encrypt     bool
	MessageID   string
	State       string
	Attempts    int
	Created     time.Time
	NextAttempt time.Time
	LastAttempt time.Time
	LastCode    int
	LastReply   string
	Finished    time.Time
}

// RowFilter selects rows for Rows; zero fields match everything.
type RowFilter struct {
	State    string
	NoticeID string
	CaseID   int64
	Limit    int // default 100
}

const rowCols = `id, notice_id, kind, case_id, recipient, fingerprint, encrypt, message_id, state, attempts,
	created, next_attempt, last_attempt, last_code, last_reply, finished`

func scanRow(sc interface{ Scan(...any) error }) (Row, error) {
	var r Row
	var enc, created, next, last, fin int64
	err := sc.Scan(&r.ID, &r.NoticeID, &r.Kind, &r.CaseID, &r.Recipient, &r.Fingerprint, &enc, &r.MessageID, &r.State,
		&r.Attempts, &created, &next, &last, &r.LastCode, &r.LastReply, &fin)
	r.Encrypt = enc != 0
	r.Created, r.NextAttempt, r.LastAttempt, r.Finished = store.Time(created), store.Time(next), store.Time(last), store.Time(fin)
	return r, err
}

// Rows lists outbox rows, newest first.
func (o *Outbox) Rows(ctx context.Context, f RowFilter) ([]Row, error) {
	return OutboxRows(ctx, o.db, f)
}

// OutboxRows lists the outbox rows of db, newest first, for readers that
// have no outbox (it needs no key).
func OutboxRows(ctx context.Context, db *store.DB, f RowFilter) ([]Row, error) {
	var where []string
	var args []any
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.NoticeID != "" {
		where, args = append(where, "notice_id = ?"), append(args, f.NoticeID)
	}
	if f.CaseID != 0 {
		where, args = append(where, "case_id = ?"), append(args, f.CaseID)
	}
	q := `SELECT ` + rowCols + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := db.Reader().QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("distlist: outbox rows: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("distlist: outbox rows: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Attempt is one entry of a row's history: a delivery attempt or a DSN.
type Attempt struct {
	N        int
	Started  time.Time
	Finished time.Time
	Outcome  string
	Code     int
	Reply    string
}

// Row returns one row and its history, or ErrNotFound.
func (o *Outbox) Row(ctx context.Context, id int64) (Row, []Attempt, error) {
	r, err := scanRow(o.db.Reader().QueryRowContext(ctx, `SELECT `+rowCols+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil, fmt.Errorf("distlist: outbox row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, nil, fmt.Errorf("distlist: outbox row %d: %w", id, err)
	}
	rows, err := o.db.Reader().QueryContext(ctx, `SELECT n, started, finished, outcome, code, reply FROM outbox_attempt
		WHERE outbox_id = ? ORDER BY n`, id)
	if err != nil {
		return r, nil, fmt.Errorf("distlist: outbox row %d: %w", id, err)
	}
	defer rows.Close()
	var hist []Attempt
	for rows.Next() {
		var a Attempt
		var st, fin int64
		if err := rows.Scan(&a.N, &st, &fin, &a.Outcome, &a.Code, &a.Reply); err != nil {
			return r, nil, fmt.Errorf("distlist: outbox row %d: %w", id, err)
		}
		a.Started, a.Finished = store.Time(st), store.Time(fin)
		hist = append(hist, a)
	}
	return r, hist, rows.Err()
}

// Retry makes a deferred or failed row due now (a bounced or sent row is
// left alone). The message bytes and Message-ID stay the same.
func (o *Outbox) Retry(ctx context.Context, id int64) error {
	err := o.db.Tx(ctx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `UPDATE outbox SET state = 'queued', next_attempt = ?, finished = 0
			WHERE id = ? AND state IN ('deferred', 'failed')`, store.Millis(o.clock.Now()), id))(
			fmt.Sprintf("retry row %d", id), fmt.Errorf("%w: no deferred or failed row %d", ErrNotFound, id))
	})
	if err == nil {
		o.Kick()
	}
	return err
}

// Fail gives up on a queued or deferred row, with the operator's reason.
func (o *Outbox) Fail(ctx context.Context, id int64, reason string) error {
	return o.db.Tx(ctx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_reply = ?, finished = ?
			WHERE id = ? AND state IN ('queued', 'deferred')`, "given up by the operator: "+headerSafe(reason),
			store.Millis(o.clock.Now()), id))(fmt.Sprintf("fail row %d", id), fmt.Errorf("%w: no queued or deferred row %d", ErrNotFound, id))
	})
}
