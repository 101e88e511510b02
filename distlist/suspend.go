package distlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// A suspended distributor gets no notice, of any case and on any list,
// until reinstated (/list suspend, /list reinstate). Three places keep
// them out: Enqueue skips them (the caller hears of it as of any skipped
// recipient), Suspend withdraws their rows still waiting, and a row
// claimed for sending to a suspended address ends failed instead of going
// out (a row queued before, restored from a backup, or written by a bug).
// A notice is a row of the notice kinds (embargo and pre-release notices)
// or a row to an embargo list, or to a list the directory no longer has
// (fail closed).

// ErrSuspended is returned when an address is suspended already.
var ErrSuspended = errors.New("suspended")

// Suspension is a distributor kept out of the notices.
type Suspension struct {
	Address string
	Reason  string
	Since   time.Time
	Actor   string // fingerprint of the member who suspended them
}

// isNotice reports whether mail of kind to list is a notice to the
// distributors, which a suspended one does not get.
func isNotice(kind string, list listRule) bool {
	return deadlineKinds[kind] || list.kind == KindEmbargo || list.name != "" && list.kind == ""
}

// noticeRows is the SQL condition of the outbox rows that are notices (as
// isNotice decides).
const noticeRows = `(kind IN ('embargo-notice', 'prerelease-notice') OR (list != '' AND list NOT IN (SELECT name FROM dir_list WHERE kind != 'embargo')))`

// Suspend keeps addr out of every notice until Reinstate, in tx: it
// records the suspension and withdraws the notices still waiting for addr.
// addr must be on an embargo list (ErrNotFound otherwise); an address
// suspended already is ErrSuspended. It returns how many rows it withdrew.
func (d *Directory) Suspend(ctx context.Context, tx *sql.Tx, addr, reason, actor string) (int64, error) {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return 0, err
	}
	var n int64
	err = d.write(ctx, tx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM dir_recipient r JOIN dir_list l ON l.name = r.list
			WHERE r.address = ? AND l.kind = 'embargo' LIMIT 1`, a).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("distlist: suspend %s: on no embargo list: %w", a, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("distlist: suspend %s: %w", a, err)
		}
		now := store.Millis(d.clock.Now())
		_, err = tx.ExecContext(ctx, `INSERT INTO dir_suspension (address, reason, since, actor) VALUES (?, ?, ?, ?)`,
			a, headerSafe(reason), now, actor)
		if store.IsUnique(err) {
			return fmt.Errorf("distlist: suspend %s: %w already", a, ErrSuspended)
		}
		if err != nil {
			return fmt.Errorf("distlist: suspend %s: %w", a, err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_reply = ?, finished = ?
			WHERE recipient = ? AND state IN ('queued', 'deferred') AND `+noticeRows,
			"withdrawn: the distributor was suspended", now, a)
		if err != nil {
			return fmt.Errorf("distlist: suspend %s: withdraw: %w", a, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	d.log.Info("distributor suspended", "address", a, "withdrawn", n)
	return n, nil
}

// Reinstate ends the suspension of addr (ErrNotFound when there is none):
// the notices that follow reach them again; those withdrawn stay so. tx
// may be nil.
func (d *Directory) Reinstate(ctx context.Context, tx *sql.Tx, addr string) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_suspension WHERE address = ?`, a))("reinstate "+a, ErrNotFound)
	})
}

// Suspensions returns the suspended distributors, by address.
func (d *Directory) Suspensions(ctx context.Context) ([]Suspension, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT address, reason, since, actor FROM dir_suspension ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("distlist: suspensions: %w", err)
	}
	defer rows.Close()
	var out []Suspension
	for rows.Next() {
		var s Suspension
		var since int64
		if err := rows.Scan(&s.Address, &s.Reason, &since, &s.Actor); err != nil {
			return nil, fmt.Errorf("distlist: suspensions: %w", err)
		}
		s.Since = store.Time(since)
		out = append(out, s)
	}
	return out, rows.Err()
}

// suspendedFor returns the suspended addresses with their reasons when mail
// of kind to list is a notice, nil otherwise.
func suspendedFor(ctx context.Context, q querier, kind string, list listRule) (map[string]string, error) {
	if !isNotice(kind, list) {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT address, reason FROM dir_suspension`)
	if err != nil {
		return nil, fmt.Errorf("suspensions: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var a, why string
		if err := rows.Scan(&a, &why); err != nil {
			return nil, fmt.Errorf("suspensions: %w", err)
		}
		out[a] = why
	}
	return out, rows.Err()
}

// withheld returns why j must not go out: a notice to a distributor
// suspended after it was queued. "" when it may.
func (j *job) withheld() string {
	if !j.suspended || !isNotice(j.kind, j.list) {
		return ""
	}
	return "withdrawn: not sent, the distributor is suspended (" + j.suspendReason + ")"
}
