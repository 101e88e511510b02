package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

func TestBuildOrdered(t *testing.T) {
	for _, tc := range []struct {
		n, window, failAt int // failAt < 0: write never fails
	}{
		{1, 1, -1}, {2, 1, -1}, {50, 3, -1}, {50, 100, -1}, {50, 3, 10}, {50, 100, 0},
	} {
		t.Run(fmt.Sprintf("n=%d,window=%d,fail=%d", tc.n, tc.window, tc.failAt), func(t *testing.T) {
			items := make([]*pending, tc.n)
			for i := range items {
				items[i] = &pending{addr: fmt.Sprint(i)}
			}
			var ahead, most atomic.Int32 // built (or being built), not yet written
			build := func(p *pending) {
				n := ahead.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(100 * time.Microsecond)
				p.raw = []byte("built " + p.addr)
			}
			var order []string
			boom := errors.New("boom")
			err := buildOrdered(items, tc.window, build, func(p *pending) error {
				ahead.Add(-1)
				if string(p.raw) != "built "+p.addr {
					t.Errorf("item %s written before it was built: %q", p.addr, p.raw)
				}
				if len(order) == tc.failAt {
					return boom
				}
				order = append(order, p.addr)
				return nil
			})
			if tc.failAt >= 0 {
				if !errors.Is(err, boom) || len(order) != tc.failAt {
					t.Fatalf("err %v after %d writes, want boom after %d", err, len(order), tc.failAt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range order {
				if a != fmt.Sprint(i) {
					t.Fatalf("written in order %v", order)
				}
			}
			if len(order) != tc.n {
				t.Fatalf("%d written, want %d", len(order), tc.n)
			}
			if m := most.Load(); int(m) > max(tc.window, 1) {
				t.Errorf("%d items built ahead of the writer, window %d", m, tc.window)
			}
		})
	}
}

// A batch seals in the background: its rows exist at once, its messages
// after Flush; what a rolled-back savepoint queued is not written; the
// messages are those Enqueue would have written.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	kb := testKey(t, "bob@distro-b.example", "rsa", false)
	kx := testKey(t, "old@distro-x.example", "x25519", true)
	notice := func(id string, rcpts ...Recipient) Mail {
		return Mail{Kind: "embargo-notice", NoticeID: id, Encrypt: true, Content: textContent("[SEC-1] "+id, "Body of "+id+"."),
			Recipients: rcpts}
	}
	alice := Recipient{Address: "alice@distro-a.example", Key: ka.Public()}
	bob := Recipient{Address: "bob@distro-b.example", Key: kb.Public()}
	old := Recipient{Address: "old@distro-x.example", Key: kx.Public()}
	count := func(tx *sql.Tx, q string) int {
		var n int
		if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := e.db.Tx(ctx, func(tx *sql.Tx) error {
		b := e.ob.NewBatch()
		defer b.Close()
		sk, err := b.Enqueue(ctx, tx, notice("one", alice, bob, old))
		if err != nil {
			return err
		}
		if len(sk) != 1 || sk[0].Recipient.Address != old.Address || !strings.Contains(sk[0].Reason, "expired") {
			t.Errorf("skipped %+v, want the expired key at once", sk)
		}
		if n := count(tx, `SELECT count(*) FROM outbox WHERE notice_id = 'one'`); n != 2 {
			t.Errorf("%d rows right after a batched Enqueue, want 2", n)
		}
		// Again, batched: the rows queued already are left alone.
		if _, err := b.Enqueue(ctx, tx, notice("one", alice, bob)); err != nil {
			return err
		}
		if n := count(tx, `SELECT count(*) FROM outbox WHERE notice_id = 'one'`); n != 2 {
			t.Errorf("%d rows after a repeated batched Enqueue, want 2", n)
		}
		mark := b.Mark()
		if _, err := tx.ExecContext(ctx, `SAVEPOINT s`); err != nil {
			return err
		}
		if _, err := b.Enqueue(ctx, tx, notice("two", alice)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO s`); err != nil {
			return err
		}
		b.Rollback(mark)
		if _, err := tx.ExecContext(ctx, `RELEASE s`); err != nil {
			return err
		}
		if _, err := b.Enqueue(ctx, tx, notice("three", bob)); err != nil {
			return err
		}
		// A big message is written at once, batch or not.
		big := notice("big", alice)
		big.Content.Entity = append([]byte("Content-Type: text/plain\r\n\r\n"), bytes.Repeat([]byte("x"), 2*batchMax)...)
		if _, err := b.Enqueue(ctx, tx, big); err != nil {
			return err
		}
		if n := count(tx, `SELECT count(*) FROM outbox_message`); n != 1 {
			t.Errorf("%d messages written before Flush, want 1 (the big one)", n)
		}
		return b.Flush(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.rows("two")); n != 0 {
		t.Errorf("the rolled-back notice has %d rows", n)
	}
	e.drain()
	keys := map[string]*crypto.Key{alice.Address: ka, bob.Address: kb}
	for id, want := range map[string][]string{"one": {alice.Address, bob.Address}, "three": {bob.Address}, "big": {alice.Address}} {
		rows := e.rows(id)
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", id, len(rows), len(want))
		}
		for _, a := range want {
			r, ok := rows[a]
			if !ok || r.State != StateSent {
				t.Fatalf("%s to %s: row %+v", id, a, r)
			}
			op, err := crypto.Open(r.Raw, crypto.OpenOptions{Decrypt: keys[a], Verifiers: []*crypto.Key{e.team.Public()}, Now: t0})
			if err != nil {
				t.Fatalf("%s to %s: open: %v", id, a, err)
			}
			if len(op.EncryptedTo) != 1 || op.Signature == nil || op.Signature.Err != nil {
				t.Errorf("%s to %s: opened %+v", id, a, op)
			}
			if id != "big" && !bytes.Contains(op.Entity, []byte("Body of "+id+".")) {
				t.Errorf("%s to %s: content %q", id, a, op.Entity)
			}
		}
	}
	if n := len(e.sink.Messages()); n != 4 {
		t.Errorf("sink got %d messages, want 4", n)
	}
}
