package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/metrics"
	"testing"
)

// goroutinesCreated returns how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestShortStatementsNoWatch pins what ShortStatements saves: the driver
// starts a goroutine to watch a cancellable context for every statement,
// and none under ShortStatements.
func TestShortStatementsNoWatch(t *testing.T) {
	db := openTest(t)
	const n = 100
	for _, tc := range []struct {
		name  string
		short bool
		min   uint64 // goroutines started by n statements, at least
		max   uint64 // and at most
	}{
		{"cancellable context", false, n, 2 * n},
		{"short statements", true, 0, n / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.short {
				ctx = ShortStatements(ctx)
			}
			before := goroutinesCreated()
			for i := range n {
				if _, err := db.Writer().ExecContext(ctx, `INSERT INTO n (v) VALUES (?)`, i); err != nil {
					t.Fatal(err)
				}
			}
			if got := goroutinesCreated() - before; got < tc.min || got > tc.max {
				t.Errorf("%d statements started %d goroutines, want %d to %d", n, got, tc.min, tc.max)
			}
		})
	}
}

// TestShortStatementsEnded: once the context has ended, no statement,
// BEGIN or prepared statement runs under ShortStatements, as without it.
func TestShortStatementsEnded(t *testing.T) {
	db := openTest(t)
	for _, short := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			run  func(ctx context.Context) error
		}{
			{"exec", func(ctx context.Context) error {
				_, err := db.Writer().ExecContext(ctx, `INSERT INTO n (v) VALUES (1)`)
				return err
			}},
			{"query", func(ctx context.Context) error {
				var v int
				return db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM n`).Scan(&v)
			}},
			{"begin", func(ctx context.Context) error {
				tx, err := db.Writer().BeginTx(ctx, nil)
				if err == nil {
					tx.Rollback()
				}
				return err
			}},
			{"prepared", func(ctx context.Context) error {
				st, err := db.Writer().Prepare(`INSERT INTO n (v) VALUES (1)`)
				if err != nil {
					return err
				}
				defer st.Close()
				_, err = st.ExecContext(ctx)
				return err
			}},
		} {
			t.Run(fmt.Sprintf("%s/short=%v", tc.name, short), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				if short {
					ctx = ShortStatements(ctx)
				}
				cancel()
				if err := tc.run(ctx); !errors.Is(err, context.Canceled) {
					t.Errorf("short %v: error %v, want %v", short, err, context.Canceled)
				}
			})
		}
	}
	var rows int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM n`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows inserted under an ended context, want 0", rows)
	}
}

// TestShortStatementsRollback: a transaction whose context ends before
// its commit commits nothing under ShortStatements.
func TestShortStatementsRollback(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithCancel(ShortStatements(context.Background()))
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO n (v) VALUES (1)`); err != nil {
			return err
		}
		cancel()
		_, err := tx.ExecContext(ctx, `INSERT INTO n (v) VALUES (2)`)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Tx: %v, want %v", err, context.Canceled)
	}
	var rows int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM n`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows committed, want 0", rows)
	}
}

// BenchmarkShortStatements: one short statement (no commit, whose fsync
// would hide the rest) under a cancellable context, with and without
// ShortStatements.
func BenchmarkShortStatements(b *testing.B) {
	for _, short := range []bool{false, true} {
		b.Run(map[bool]string{false: "watched", true: "short"}[short], func(b *testing.B) {
			db := openTest(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if short {
				ctx = ShortStatements(ctx)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := db.Reader().ExecContext(ctx, `SELECT count(*) FROM n WHERE v = ?`, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
