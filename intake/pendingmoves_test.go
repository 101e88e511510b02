package intake

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgate/secgate/store"
)

// pendingMovesDB is a database of the watched mailbox's moved messages
// (done rows of every day of years of intake, under one UIDVALIDITY, as a
// mailbox keeps it) and of the few handled ones still to move.
func pendingMovesDB(t testing.TB, moved int, toMove []uint32) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "moves.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range moved {
			if _, err := tx.ExecContext(ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, reason, processed, moved)
				VALUES ('INBOX', 7, ?, randomblob(32), '', 'rita@example.org', 1, 0, 'processed', 'report', '', 1, 1)`, 100000+i); err != nil {
				return err
			}
		}
		for i, uid := range toMove {
			state := []string{"processed", "quarantined"}[i%2]
			if _, err := tx.ExecContext(ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, reason, processed, moved)
				VALUES ('INBOX', 7, ?, randomblob(32), '', 'rita@example.org', 1, 0, ?, 'report', '', 1, 0)`, uid, state); err != nil {
				return err
			}
		}
		// Another mailbox's and an earlier UIDVALIDITY's, not to move here.
		for _, mb := range []struct {
			mailbox string
			v       int
		}{{"Other", 7}, {"INBOX", 6}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, reason, processed, moved)
				VALUES (?, ?, 1, randomblob(32), '', 'rita@example.org', 1, 0, 'processed', 'report', '', 1, 0)`, mb.mailbox, mb.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestPendingMoves: the handled messages of the watched mailbox and its
// UIDVALIDITY that are still there come back per state, in UID order,
// found through the index on what is left to move (inbound_state), not by
// reading every message the mailbox ever held.
func TestPendingMoves(t *testing.T) {
	ctx := context.Background()
	db := pendingMovesDB(t, 50, []uint32{9, 3, 5, 4})
	got, err := pendingMoves(ctx, db.Reader(), "INBOX", 7)
	if err != nil {
		t.Fatal(err)
	}
	if p, q := got["processed"], got["quarantined"]; len(got) != 2 || p == nil || q == nil ||
		fmt.Sprint(p.uids) != "[5 9]" || fmt.Sprint(q.uids) != "[3 4]" || len(p.ids) != 2 || len(q.ids) != 2 {
		t.Errorf("pending moves: %d states, processed %+v, quarantined %+v", len(got), got["processed"], got["quarantined"])
	}
	plan, err := store.QueryPlan(ctx, db.Reader(), pendingMovesQuery, "INBOX", 7)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "INDEX inbound_state") {
		t.Errorf("plan %q: want the index on state and moved", plan)
	}
}

// BenchmarkPendingMoves looks for the messages to move among 100 and
// among 20,000 already moved: a poll does it every cycle.
func BenchmarkPendingMoves(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 20000} {
		db := pendingMovesDB(b, n, []uint32{1, 2})
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if m, err := pendingMoves(ctx, db.Reader(), "INBOX", 7); err != nil || len(m) != 2 {
					b.Fatal(m, err)
				}
			}
		})
	}
}
