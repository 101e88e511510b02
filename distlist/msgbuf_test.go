package distlist

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestMessageBuffers: get returns an empty buffer with room for what was
// asked, of the smallest pooled size that holds it, or of exactly that
// size beyond them; put keeps only buffers of a pooled size, and a buffer
// given back comes out empty.
func TestMessageBuffers(t *testing.T) {
	var m messageBuffers
	for _, tc := range []struct {
		n, cap int
	}{
		{0, 16 << 10}, {1, 16 << 10}, {16 << 10, 16 << 10}, {16<<10 + 1, 32 << 10},
		{40 << 10, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 64<<10 + 1}, {1 << 20, 1 << 20},
	} {
		b := m.get(tc.n)
		if len(b) != 0 || cap(b) != tc.cap {
			t.Errorf("get(%d): len %d cap %d, want 0 and %d", tc.n, len(b), cap(b), tc.cap)
		}
	}
	b := append(m.get(100), "a message"...)
	m.put(b)
	// A pool may drop what it holds at any time; what it gives back is
	// empty whether it is the buffer put or a new one.
	if c := m.get(100); len(c) != 0 || cap(c) != 16<<10 {
		t.Errorf("after put: len %d cap %d", len(c), cap(c))
	}
	m.put(make([]byte, 5, 1000)) // not a pooled size: left alone
	if c := m.get(100); cap(c) != 16<<10 {
		t.Errorf("a buffer of capacity 1000 came out of the pool for 16 KiB (cap %d)", cap(c))
	}
}

// TestBufferedMessagesExact sends a batch of messages of several sizes,
// sealed for different recipients, through Run's parallel workers, which
// reuse the buffers of the messages they built and sent: every message
// the sink receives is byte for byte its row's, addressed and encrypted
// to that row's recipient alone.
func TestBufferedMessagesExact(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.SMTP.Parallel = 4 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ob.Run(ctx) }()
	keys := map[string]*crypto.Key{}
	for i := range 4 {
		addr := fmt.Sprintf("d%d@distro.example", i)
		keys[addr] = testKey(t, addr, "x25519", false)
	}
	var notices []string
	for n, size := range []int{100, 9000, 20000, 40000, 300, 15000} {
		notice := fmt.Sprintf("buf%d", n)
		notices = append(notices, notice)
		var rcpts []Recipient
		for addr, k := range keys {
			rcpts = append(rcpts, Recipient{Address: addr, Key: k.Public()})
		}
		err := e.db.Tx(context.Background(), func(tx *sql.Tx) error {
			b := e.ob.NewBatch()
			defer b.Close()
			if _, err := b.Enqueue(context.Background(), tx, Mail{Kind: "embargo-notice", CaseID: 7, NoticeID: notice, Encrypt: true,
				Content: textContent(notice, strings.Repeat(fmt.Sprintf("line of %s\n", notice), size/16)), Recipients: rcpts}); err != nil {
				return err
			}
			return b.Flush(context.Background(), tx)
		})
		if err != nil {
			t.Fatal(err)
		}
		e.ob.Kick()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pending int
		e.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'deferred')`).Scan(&pending)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows still pending", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	got := map[string][][]byte{}
	for _, m := range e.sink.Messages() {
		got[m.To[0]] = append(got[m.To[0]], m.Data)
	}
	sent := 0
	for _, notice := range notices {
		for addr, r := range e.rows(notice) {
			if r.State != StateSent {
				t.Errorf("%s to %s: %s %s", notice, addr, r.State, r.Reply)
				continue
			}
			sent++
			found := false
			for _, data := range got[addr] {
				found = found || bytes.Equal(data, r.Raw)
			}
			if !found {
				t.Errorf("%s to %s: no message the sink received is the row's", notice, addr)
			}
			kid, _ := keys[addr].EncryptionKeyID(t0)
			if err := encryptedOnlyFor(r.Raw, kid); err != nil {
				t.Errorf("%s to %s: %v", notice, addr, err)
			}
		}
	}
	if n := len(e.sink.Messages()); n != sent || sent != len(notices)*len(keys) {
		t.Errorf("the sink received %d messages, %d rows sent, want %d", n, sent, len(notices)*len(keys))
	}
}
