package distlist

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// sealStream queues a big encrypted message: each recipient's copy is
// sealed in turn straight into the pieces of its row, in the transaction
// that inserts the row, so that no sealed copy is ever whole in memory
// (the signed message is, once). A copy that cannot be sealed leaves no
// row and no piece: its recipient is skipped, as when sealed whole.
type sealStream struct {
	tx        *sql.Tx
	insertRow func(*pending) (int64, error) // 0: queued for the notice already
	head      func(*pending) outer
	signed    *crypto.Signed
	now       time.Time
}

// run queues the copies of todo and returns how many were queued and the
// recipients skipped.
func (s *sealStream) run(ctx context.Context, todo []*pending) (int, []Skipped, error) {
	queued := 0
	var skipped []Skipped
	for _, p := range todo {
		if _, err := s.tx.ExecContext(ctx, `SAVEPOINT outbox_seal`); err != nil {
			return 0, nil, err
		}
		ok, sealErr, err := s.one(ctx, p)
		if err != nil {
			return 0, nil, err
		}
		if sealErr != nil {
			if _, err := s.tx.ExecContext(ctx, `ROLLBACK TO outbox_seal`); err != nil {
				return 0, nil, err
			}
			skipped = append(skipped, Skipped{p.r, "could not encrypt: " + sealErr.Error()})
		} else if ok {
			queued++
		}
		if _, err := s.tx.ExecContext(ctx, `RELEASE outbox_seal`); err != nil {
			return 0, nil, err
		}
	}
	return queued, skipped, nil
}

// one inserts p's row and seals its copy into the row's pieces. ok is
// false when p was queued for the notice already; sealErr is an error of
// the sealing, err one of the database.
func (s *sealStream) one(ctx context.Context, p *pending) (ok bool, sealErr, err error) {
	id, err := s.insertRow(p)
	if err != nil || id == 0 {
		return false, nil, err
	}
	if _, err := s.tx.ExecContext(ctx, `INSERT INTO outbox_message (outbox_id, raw) VALUES (?, ?)`, id, []byte{}); err != nil {
		return false, nil, fmt.Errorf("for %s: %w", p.addr, err)
	}
	w := store.NewBlobWriter(ctx, s.tx, "outbox", id)
	if _, err := w.Write(s.head(p).header(0, true).Bytes()); err != nil {
		return false, nil, fmt.Errorf("for %s: %w", p.addr, err)
	}
	sealErr = s.signed.WriteSealed(w, p.r.Key, s.now)
	if err := w.Err(); err != nil {
		return false, nil, fmt.Errorf("for %s: %w", p.addr, err)
	}
	if sealErr != nil {
		return false, sealErr, nil
	}
	if err := w.Close(); err != nil {
		return false, nil, fmt.Errorf("for %s: %w", p.addr, err)
	}
	return true, nil, nil
}
