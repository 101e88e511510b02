package intake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// recordIdentities records the replay identities of inbound message id
// (session key and literal data digests, Opened.Identities), from sender,
// in one statement: the first message with an identity keeps it.
func recordIdentities(ctx context.Context, tx *sql.Tx, ids [][]byte, id int64, sender string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(ids))
	for _, sum := range ids {
		args = append(args, sum, id, sender)
	}
	q := `INSERT INTO inbound_cipher (sha256, inbound_id, sender) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(ids)-1) +
		` ON CONFLICT (sha256) DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("intake: record replay identities of %d: %w", id, err)
	}
	return nil
}
