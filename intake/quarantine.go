package intake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"

	"github.com/secgate/secgate/store"
)

// Quarantine reads and releases held messages, for the CLI.
type Quarantine struct {
	db   *store.DB
	rest AtRest
}

// NewQuarantine returns the quarantine view of db. rest (the team key) is
// needed only by Show.
func NewQuarantine(db *store.DB, rest AtRest) *Quarantine {
	return &Quarantine{db: db, rest: rest}
}

// List returns the quarantined messages, oldest first.
func (q *Quarantine) List(ctx context.Context) ([]Inbound, error) {
	ids, err := queryIDs(ctx, q.db.Reader(), `SELECT id FROM inbound WHERE state = 'quarantined' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out := make([]Inbound, 0, len(ids))
	for _, id := range ids {
		in, err := getInbound(ctx, q.db.Reader(), id)
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	return out, nil
}

// Show returns one inbound message (in any state) and its raw header
// section; the body is not shown.
func (q *Quarantine) Show(ctx context.Context, id int64) (*Inbound, string, error) {
	in, err := getInbound(ctx, q.db.Reader(), id)
	if err != nil {
		return nil, "", err
	}
	if q.rest == nil {
		return in, "", nil
	}
	raw, err := rawMessage(ctx, q.db.Reader(), q.rest, id)
	if err != nil {
		return in, "", err
	}
	hdr := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		hdr = raw[:i+2]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		hdr = raw[:i+1]
	}
	return in, string(hdr), nil
}

// Release marks a quarantined message for processing again. The next poll
// processes it without the rate limit, duplicate and replay checks (the
// operator decided); the server copy stays in the Quarantine folder.
func (q *Quarantine) Release(ctx context.Context, id int64) error {
	return q.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE inbound SET state = 'released' WHERE id = ? AND state = 'quarantined'`, id)
		if err != nil {
			return fmt.Errorf("intake: release %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %d is not quarantined", ErrNotFound, id)
		}
		return nil
	})
}
