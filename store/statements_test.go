package store

import (
	"context"
	"database/sql"
	"testing"
)

func TestStatements(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	tests := []struct {
		name string
		run  func() error
		want uint64
	}{
		{"exec on the writer", func() error {
			_, err := db.Writer().ExecContext(ctx, `INSERT INTO n (v) VALUES (1)`)
			return err
		}, 1},
		{"query on the read pool", func() error {
			var n int
			return db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM n`).Scan(&n)
		}, 1},
		{"two statements in a transaction", func() error {
			return db.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO n (v) VALUES (2)`); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `DELETE FROM n WHERE v = 2`)
				return err
			})
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Statements()
			if err := tc.run(); err != nil {
				t.Fatal(err)
			}
			if got := db.Statements() - before; got != tc.want {
				t.Errorf("%d statements counted, want %d", got, tc.want)
			}
		})
	}
}
