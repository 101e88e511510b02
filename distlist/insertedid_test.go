package distlist

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/secgate/secgate/store"
)

// TestInsertedID: an insert that did nothing on conflict gives 0, not the
// id of the connection's last insert, which SQLite keeps.
func TestInsertedID(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "i.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE) STRICT`); err != nil {
			return err
		}
		for _, tc := range []struct {
			k    string
			want int64
		}{
			{"a", 1},
			{"b", 2},
			{"a", 0}, // queued already: after the insert of b, whose id SQLite still has
			{"c", 3},
			{"c", 0},
		} {
			res, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES (?) ON CONFLICT (k) DO NOTHING`, tc.k)
			if err != nil {
				return err
			}
			id, err := insertedID(res)
			if err != nil {
				return err
			}
			if id != tc.want {
				t.Errorf("insert %q: id %d, want %d", tc.k, id, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
