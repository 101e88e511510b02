package distlist

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

var keyCacheMu sync.Mutex
var testKeys = map[string]*crypto.Key{}

// testKey returns a private key for email, generated once per test binary.
// alg is "x25519" or "rsa"; expired keys were valid for a year ending
// before t0.
func testKey(t testing.TB, email, alg string, expired bool) *crypto.Key {
	t.Helper()
	id := fmt.Sprintf("%s/%s/%v", email, alg, expired)
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := testKeys[id]; ok {
		return k
	}
	opts := crypto.GenerateOptions{Algorithm: alg, Created: t0.Add(-24 * time.Hour)}
	if expired {
		opts.Created = t0.AddDate(-2, 0, 0)
		opts.Lifetime = 365 * 24 * time.Hour
	}
	k, err := crypto.GenerateKey(strings.Split(email, "@")[0], email, opts)
	if err != nil {
		t.Fatalf("generate key %s: %v", email, err)
	}
	testKeys[id] = k
	return k
}

func armorPub(t testing.TB, k *crypto.Key) []byte {
	t.Helper()
	a, err := k.Public().ArmorPublic()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(a)
}

type env struct {
	t      testing.TB
	db     *store.DB
	clock  *clock.Fake
	dir    *Directory
	ob     *Outbox
	sink   *smtpsink.Sink
	team   *crypto.Key
	cfg    Config
	mu     sync.Mutex
	events []Event
}

func newEnv(t testing.TB, sinkOpts smtpsink.Options, tweak func(*Config)) *env {
	t.Helper()
	return newEnvAt(t, filepath.Join(t.TempDir(), "gw.db"), sinkOpts, tweak)
}

// newEnvAt is newEnv with the database at path.
func newEnvAt(t testing.TB, path string, sinkOpts smtpsink.Options, tweak func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sink, err := smtpsink.Start(sinkOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	e := &env{t: t, db: db, clock: clock.NewFake(t0), sink: sink, team: testKey(t, "security@example.org", "x25519", false)}
	// The SMTP timeouts are the defaults' order: sealing and guarding a
	// big message under the race detector on a busy machine takes tens of
	// seconds, and the tests of timeouts set their own.
	e.cfg = Config{From: "Security Team <security@example.org>", SMTP: SMTPConfig{Addr: sink.Addr, TLS: TLSNone,
		Parallel: 2, CommandTimeout: time.Minute, SubmissionTimeout: 2 * time.Minute, DialTimeout: 5 * time.Second}}
	if tweak != nil {
		tweak(&e.cfg)
	}
	e.dir = NewDirectory(db, e.clock, nil)
	e.ob, err = NewOutbox(ctx, OutboxOptions{DB: db, Directory: e.dir, TeamKey: e.team, Config: e.cfg, Clock: e.clock,
		OnEvent: func(ev Event) { e.mu.Lock(); e.events = append(e.events, ev); e.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) Events() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

func (e *env) enqueue(m Mail) []Skipped {
	e.t.Helper()
	var sk []Skipped
	err := e.db.Tx(context.Background(), func(tx *sql.Tx) error {
		var err error
		sk, err = e.ob.Enqueue(context.Background(), tx, m)
		return err
	})
	if err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	return sk
}

// drain delivers every due row with one sender, synchronously.
func (e *env) drain() {
	e.t.Helper()
	if err := e.ob.Flush(context.Background()); err != nil {
		e.t.Fatalf("drain: %v", err)
	}
}

type rowView struct {
	ID        int64
	Recipient string
	State     string
	Attempts  int
	Code      int
	Reply     string
	MessageID string
	Raw       []byte
	Next      time.Time
}

func (e *env) rows(notice string) map[string]rowView {
	e.t.Helper()
	rs, err := e.db.Reader().Query(`SELECT id, recipient, state, attempts, last_code, last_reply, message_id, raw, next_attempt
		FROM outbox JOIN outbox_message ON outbox_id = id WHERE notice_id = ?`, notice)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]rowView{}
	for rs.Next() {
		var r rowView
		var next int64
		if err := rs.Scan(&r.ID, &r.Recipient, &r.State, &r.Attempts, &r.Code, &r.Reply, &r.MessageID, &r.Raw, &next); err != nil {
			e.t.Fatal(err)
		}
		r.Next = store.Time(next)
		if r.Raw, err = store.Unspill(context.Background(), e.db.Reader(), "outbox", r.ID, r.Raw); err != nil {
			e.t.Fatal(err)
		}
		out[r.Recipient] = r
	}
	return out
}

func textContent(subject, body string) crypto.Content {
	return crypto.Content{Subject: subject, From: "Security Team <security@example.org>",
		Entity: []byte("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")}
}
