package distlist

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secgate/secgate/crypto"
)

// knownKeysQuery finds which of a JSON array of fingerprints the
// directory holds, searching its index once for each.
const knownKeysQuery = `SELECT fingerprint FROM dir_key WHERE fingerprint IN (SELECT value FROM json_each(?))`

// knownKeys is the set of the recipients' key fingerprints that the
// directory holds already, read in one statement for all of a mail's
// recipients (rather than one a recipient: two a report for its team
// copies, a thousand for a notice to a thousand distributors).
type knownKeys map[string]bool

// readKnownKeys reads which keys of todo the directory holds.
func readKnownKeys(ctx context.Context, tx *sql.Tx, todo []*pending) (knownKeys, error) {
	fprs := make([]string, len(todo))
	for i, p := range todo {
		fprs[i] = p.r.Key.Fingerprint()
	}
	js, err := json.Marshal(fprs)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, knownKeysQuery, string(js))
	if err != nil {
		return nil, fmt.Errorf("distlist: recipient keys: %w", err)
	}
	defer rows.Close()
	known := knownKeys{}
	for rows.Next() {
		var fpr string
		if err := rows.Scan(&fpr); err != nil {
			return nil, fmt.Errorf("distlist: recipient keys: %w", err)
		}
		known[fpr] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("distlist: recipient keys: %w", err)
	}
	return known, nil
}

// remember stores a recipient key that is not in the directory yet (a
// per-case recipient, say), so that it can be checked again before
// sending.
func (known knownKeys) remember(ctx context.Context, o *Outbox, tx *sql.Tx, k *crypto.Key, now time.Time) error {
	fpr := k.Fingerprint()
	if known[fpr] {
		return nil
	}
	arm, err := storeKey(ctx, tx, k.Public(), now, false)
	if err != nil {
		return err
	}
	o.keys.put([]byte(arm), k.Public()) // delivery reads it back from there
	known[fpr] = true
	return nil
}
