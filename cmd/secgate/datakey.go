package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// Data keys (envelope keys, issue #22): data at rest is sealed with a
// random AES-256 key the team key wraps (crypto.DataKey, table data_key),
// one public-key operation when the gateway starts instead of one for
// every value stored and every value read back.

// storedDataKey is one data key as stored: the team key it was made for
// and its wraps by team key fingerprint.
type storedDataKey struct {
	id    uint32
	team  string
	wraps map[string][]byte
}

// readDataKeys returns the stored data keys, oldest first.
func readDataKeys(ctx context.Context, q queryer) ([]*storedDataKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.id, d.team, w.fingerprint, w.wrapped
		FROM data_key d JOIN data_key_wrap w ON w.key_id = d.id ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("data keys: %w", err)
	}
	defer rows.Close()
	var out []*storedDataKey
	for rows.Next() {
		var id int64
		var team, fpr string
		var wrapped []byte
		if err := rows.Scan(&id, &team, &fpr, &wrapped); err != nil {
			return nil, fmt.Errorf("data keys: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].id != uint32(id) {
			out = append(out, &storedDataKey{id: uint32(id), team: team, wraps: map[string][]byte{}})
		}
		out[len(out)-1].wraps[fpr] = wrapped
	}
	return out, rows.Err()
}

// withDataKeys returns team carrying the data keys stored in db, each
// unwrapped once with team or a key it succeeded: it opens what any of
// them sealed, and seals with the newest made for team. A data key that
// neither team nor a key it succeeded unwraps fails: what it sealed could
// not be read (the same as a missing previous team key, checkRotations).
//
// With write (the gateway's start), in one transaction, it first wraps to
// team every data key not yet wrapped to it (after a rotation) and makes a
// data key for team when there is none; without it (commands that read),
// a database without a data key for team leaves team sealing with its
// public key.
func withDataKeys(ctx context.Context, db *store.DB, team *crypto.Key, now time.Time, write bool) (*crypto.Key, error) {
	var out *crypto.Key
	load := func(q queryer, tx *sql.Tx) error {
		stored, err := readDataKeys(ctx, q)
		if err != nil {
			return err
		}
		fpr := team.Fingerprint()
		var seal *crypto.DataKey
		var open []*crypto.DataKey
		var next uint32 = 1
		for _, s := range stored {
			next = max(next, s.id+1)
			d, err := unwrapStored(team, s)
			if err != nil {
				return err
			}
			open = append(open, d)
			if d.MadeFor() == fpr { // what the team key signed, not the column
				seal = d
			}
			if _, ok := s.wraps[fpr]; ok || tx == nil {
				continue
			}
			if err := insertWrap(ctx, tx, team, d, now); err != nil {
				return err
			}
		}
		if seal == nil && tx != nil {
			if seal, err = crypto.GenerateDataKey(next); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO data_key (id, team, created) VALUES (?, ?, ?)`, next, fpr, store.Millis(now)); err != nil {
				return fmt.Errorf("data key %d: %w", next, err)
			}
			if err := insertWrap(ctx, tx, team, seal, now); err != nil {
				return err
			}
		}
		out = team.WithDataKeys(seal, open...)
		return nil
	}
	var err error
	if write {
		err = db.Tx(ctx, func(tx *sql.Tx) error { return load(tx, tx) })
	} else {
		err = load(db.Reader(), nil)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// unwrapStored unwraps s with the wrap to team, or else to a key team
// succeeded, and checks that the team key it was made for signed it.
func unwrapStored(team *crypto.Key, s *storedDataKey) (*crypto.DataKey, error) {
	for _, fpr := range append([]string{team.Fingerprint()}, team.Previous()...) {
		if w, ok := s.wraps[fpr]; ok {
			d, err := team.UnwrapDataKey(s.id, w)
			if err != nil {
				return nil, fmt.Errorf("data key %d wrapped to %s: %w", s.id, fpr, err)
			}
			return d, nil
		}
	}
	fprs := make([]string, 0, len(s.wraps))
	for f := range s.wraps {
		fprs = append(fprs, f)
	}
	slices.Sort(fprs)
	return nil, fmt.Errorf("data key %d is wrapped to %v, none of them the team key %s or a key it succeeded: what it sealed cannot be read; restore the team key that was in use",
		s.id, fprs, team.Fingerprint())
}

func insertWrap(ctx context.Context, tx *sql.Tx, team *crypto.Key, d *crypto.DataKey, now time.Time) error {
	wrapped, err := team.WrapDataKey(d, now)
	if err != nil {
		return fmt.Errorf("data key %d: %w", d.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO data_key_wrap (key_id, fingerprint, wrapped, created) VALUES (?, ?, ?, ?)`,
		d.ID, team.Fingerprint(), wrapped, store.Millis(now)); err != nil {
		return fmt.Errorf("data key %d: %w", d.ID, err)
	}
	return nil
}

// viewDataKeys is withDataKeys for a command that reads db: the data keys
// come from cfg.KeysDatabase when it is set (an archive is opened with the
// project's data keys, which the project's database keeps up to date
// through rotations), from db otherwise.
func viewDataKeys(ctx context.Context, cfg *Config, db *store.DB, team *crypto.Key) (*crypto.Key, error) {
	if cfg.KeysDatabase == "" {
		return withDataKeys(ctx, db, team, time.Now(), false)
	}
	keys, err := store.Open(ctx, cfg.KeysDatabase)
	if err != nil {
		return nil, err
	}
	defer keys.Close()
	return withDataKeys(ctx, keys, team, time.Now(), false)
}
