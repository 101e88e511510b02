package distlist

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// HandleDSN records a delivery status notification received by intake. It
// finds the outbox row by the VERP token in the address the DSN was sent
// to, and checks the token's HMAC, so a forged bounce cannot mark a row. A
// failure marks the row bounced with the reported reason, and repeated hard
// bounces flag the address for the team; delays and successes are kept in
// the row's history. matched is false for a DSN about a message we never
// sent; err is ErrNotDSN (wrapped) when raw is not a DSN.
func (o *Outbox) HandleDSN(ctx context.Context, raw []byte) (matched bool, err error) {
	d, err := ParseDSN(raw)
	if err != nil {
		return false, err
	}
	var tok string
	for _, a := range d.Addressees {
		if tok = tokenFromAddress(o.cfg.Bounce, a); tok != "" {
			break
		}
	}
	if tok == "" && isToken(d.EnvelopeID) {
		tok = d.EnvelopeID
	}
	if tok == "" {
		o.log.Info("DSN without a token of ours ignored", "reporting_mta", d.ReportingMTA)
		return false, nil
	}
	var ev *Event
	err = o.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, caseID int64
		var notice, rcpt, state string
		err := tx.QueryRowContext(ctx, `SELECT id, notice_id, case_id, recipient, state FROM outbox WHERE token = ?`, tok).
			Scan(&id, &notice, &caseID, &rcpt, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(verpToken(o.secret, notice, rcpt)), []byte(tok)) != 1 {
			return nil
		}
		matched = true
		r := d.Recipients[0]
		for _, x := range d.Recipients {
			if x.FinalRecipient == rcpt || x.OriginalRecipient == rcpt {
				r = x
				break
			}
		}
		now := o.clock.Now()
		reason := fmt.Sprintf("DSN %s %s", r.Action, r.Status)
		if r.DiagnosticCode != "" {
			reason += ": " + r.DiagnosticCode
		}
		if r.RemoteMTA != "" {
			reason += " (" + r.RemoteMTA + ")"
		}
		outcome := "dsn-" + r.Action
		if r.Action == "failed" {
			outcome = StateBounced
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'bounced', last_reply = ?, finished = ? WHERE id = ?`,
				reason, store.Millis(now), id); err != nil {
				return err
			}
			ev = &Event{Kind: EventBounced, RowID: id, NoticeID: notice, CaseID: caseID, Recipient: rcpt, Reason: reason}
			if r.Hard() {
				flagged, err := o.countBounce(ctx, tx, rcpt, reason, now)
				if err != nil {
					return err
				}
				if flagged {
					ev.Kind = EventFlagged
				}
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox_attempt (outbox_id, n, started, finished, outcome, reply)
			VALUES (?, (SELECT coalesce(max(n), 0) + 1 FROM outbox_attempt WHERE outbox_id = ?), ?, ?, ?, ?)`,
			id, id, store.Millis(now), store.Millis(now), outcome, reason)
		if err != nil || ev == nil {
			return err
		}
		return insertEvent(ctx, tx, ev, store.Millis(now))
	})
	if err != nil {
		return false, fmt.Errorf("distlist: handle DSN: %w", err)
	}
	if ev != nil {
		o.log.Warn("bounce recorded", "row", ev.RowID, "notice", ev.NoticeID, "recipient", ev.Recipient, "reason", ev.Reason, "flagged", ev.Kind == EventFlagged)
		if o.onEvent != nil {
			o.onEvent(*ev)
		}
	}
	return matched, nil
}

// countBounce counts a hard bounce for addr and reports whether the address
// just crossed the flag threshold.
func (o *Outbox) countBounce(ctx context.Context, tx *sql.Tx, addr, reason string, now time.Time) (bool, error) {
	var hard, flagged int64
	err := tx.QueryRowContext(ctx, `INSERT INTO dir_bounce (address, hard, last, last_reason) VALUES (?, 1, ?, ?)
		ON CONFLICT (address) DO UPDATE SET hard = hard + 1, last = excluded.last, last_reason = excluded.last_reason
		RETURNING hard, flagged`, addr, store.Millis(now), reason).Scan(&hard, &flagged)
	if err != nil {
		return false, err
	}
	if flagged == 0 && hard >= int64(o.cfg.BounceFlagAfter) {
		if _, err := tx.ExecContext(ctx, `UPDATE dir_bounce SET flagged = 1 WHERE address = ?`, addr); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// Flag is an address that bounced too often.
type Flag struct {
	Address    string
	HardBounce int
	Last       time.Time
	LastReason string
}

// Flagged returns the addresses flagged for repeated hard bounces.
func (d *Directory) Flagged(ctx context.Context) ([]Flag, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT address, hard, last, last_reason FROM dir_bounce WHERE flagged = 1 ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("distlist: flagged: %w", err)
	}
	defer rows.Close()
	var fs []Flag
	for rows.Next() {
		var f Flag
		var last int64
		if err := rows.Scan(&f.Address, &f.HardBounce, &last, &f.LastReason); err != nil {
			return nil, fmt.Errorf("distlist: flagged: %w", err)
		}
		f.Last = store.Time(last)
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// ClearFlag resets the bounce count of addr (after the team fixed it). tx
// may be nil.
func (d *Directory) ClearFlag(ctx context.Context, tx *sql.Tx, addr string) error {
	a, err := CanonicalAddress(addr)
	if err != nil {
		return err
	}
	return d.write(ctx, tx, func(tx *sql.Tx) error {
		return affected1(tx.ExecContext(ctx, `DELETE FROM dir_bounce WHERE address = ?`, a))("clear flag "+a, ErrNotFound)
	})
}
