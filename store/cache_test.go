package store

import (
	"context"
	"database/sql"
	"testing"
)

// TestCacheSize: every connection, the writer's and the readers', keeps a
// page cache of cacheKiB, not SQLite's 2 MiB.
func TestCacheSize(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for name, pool := range map[string]interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}{"writer": db.Writer(), "reader": db.Reader()} {
		var n int
		if err := pool.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != -cacheKiB {
			t.Errorf("%s: cache_size %d, want %d", name, n, -cacheKiB)
		}
	}
}
