package distlist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/distlist/smtpsink"
)

// TestCrashResume: the gateway dies after the attempt was committed and the
// message handed to the server, before the result was recorded. After the
// restart the row is sent again at once (it was due; waiting for the retry
// delay could make a notice late) and exactly once, byte-identical with the
// same Message-ID; rows that were claimed but never sent arrive once.
func TestCrashResume(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	ka := testKey(t, "alice@distro-a.example", "x25519", false)
	kb := testKey(t, "bob@distro-b.example", "x25519", false)
	kc := testKey(t, "carol@distro-c.example", "x25519", false)
	e.enqueue(Mail{Kind: "embargo-notice", NoticeID: "crash", Encrypt: true, Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "alice@distro-a.example", Key: ka.Public()},
			{Address: "bob@distro-b.example", Key: kb.Public()}, {Address: "carol@distro-c.example", Key: kc.Public()}}})
	jobs, _, err := e.ob.claim(ctx, 10)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("claim: %d %v", len(jobs), err)
	}
	s := &sender{o: e.ob}
	if out := s.deliver(ctx, jobs[0]); out.state != StateSent {
		t.Fatalf("first delivery: %+v", out)
	}
	s.drop() // crash: no result recorded, connection gone
	inflight := jobs[0].recipient
	for _, r := range e.rows("crash") {
		if r.State != StateSending || r.Attempts != 1 {
			t.Fatalf("before restart: %+v", r)
		}
	}

	// restart
	ob2, err := NewOutbox(ctx, OutboxOptions{DB: e.db, TeamKey: e.team, Config: e.cfg, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := e.sink.Messages()
	if len(msgs) != 4 {
		t.Fatalf("sink has %d messages, want 4 (3 + the in-flight one again)", len(msgs))
	}
	var copies [][]byte
	for _, m := range msgs {
		if m.To[0] == inflight {
			copies = append(copies, m.Data)
		}
	}
	if len(copies) != 2 || !bytes.Equal(copies[0], copies[1]) {
		t.Fatalf("in-flight row arrived %d times (identical: %v)", len(copies), len(copies) == 2 && bytes.Equal(copies[0], copies[1]))
	}
	m, _ := mail.ReadMessage(bytes.NewReader(copies[1]))
	row := e.rows("crash")[inflight]
	if m.Header.Get("Message-ID") != "<"+row.MessageID+">" {
		t.Errorf("Message-ID %q, row %q", m.Header.Get("Message-ID"), row.MessageID)
	}
	for _, r := range e.rows("crash") {
		if r.State != StateSent || r.Attempts != 2 {
			t.Errorf("after restart: %s %s attempts %d", r.Recipient, r.State, r.Attempts)
		}
	}
	var interrupted int
	e.db.Reader().QueryRow(`SELECT count(*) FROM outbox_attempt WHERE outcome = 'interrupted'`).Scan(&interrupted)
	if interrupted != 3 {
		t.Errorf("%d interrupted attempts in the history, want 3", interrupted)
	}
}

// TestRunParallel delivers through Run with parallel reused connections.
func TestRunParallel(t *testing.T) {
	e := newEnv(t, smtpsink.Options{}, func(c *Config) { c.SMTP.Parallel = 4 })
	var rcpts []Recipient
	for i := range 60 {
		rcpts = append(rcpts, Recipient{Address: fmt.Sprintf("user%d@sink.example", i)})
	}
	rcpts = append(rcpts, Recipient{Address: "permerror@sink.example"}, Recipient{Address: "temperror@sink.example"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ob.Run(ctx) }()
	e.enqueue(Mail{Kind: "announcement", NoticeID: "par", Content: textContent("s", "b"), Recipients: rcpts})
	e.ob.Kick()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int
		e.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')`).Scan(&pending)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows still pending", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.ob.Flush(context.Background()); err == nil {
		t.Error("Flush ran while Run was active")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	rows := e.rows("par")
	states := map[string]int{}
	for _, r := range rows {
		states[r.State]++
	}
	if states[StateSent] != 60 || states[StateFailed] != 1 || states[StateDeferred] != 1 {
		t.Errorf("states %v", states)
	}
	if n := len(e.sink.Messages()); n != 60 {
		t.Errorf("sink got %d", n)
	}
	if c := e.sink.Connections(); c > 4 {
		t.Errorf("%d connections, want at most 4 (each reused)", c)
	}
}

func TestAdmin(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, smtpsink.Options{}, nil)
	e.enqueue(Mail{Kind: "announcement", CaseID: 3, NoticeID: "adm", Content: textContent("s", "b"),
		Recipients: []Recipient{{Address: "permerror@sink.example"}, {Address: "ok@sink.example"}, {Address: "temperror@sink.example"}}})
	e.drain()
	rows, err := e.ob.Rows(ctx, RowFilter{CaseID: 3})
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %v %v", rows, err)
	}
	failed, _ := e.ob.Rows(ctx, RowFilter{State: StateFailed})
	if len(failed) != 1 || failed[0].Recipient != "permerror@sink.example" || failed[0].LastCode != 550 {
		t.Fatalf("failed rows %+v", failed)
	}
	if err := e.ob.Retry(ctx, failed[0].ID); err != nil {
		t.Fatal(err)
	}
	e.drain()
	r, hist, err := e.ob.Row(ctx, failed[0].ID)
	if err != nil || r.State != StateFailed || r.Attempts != 2 || len(hist) != 2 || hist[1].Code != 550 {
		t.Fatalf("after retry: %+v %+v %v", r, hist, err)
	}
	sent, _ := e.ob.Rows(ctx, RowFilter{State: StateSent})
	if err := e.ob.Retry(ctx, sent[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry of a sent row: %v", err)
	}
	def, _ := e.ob.Rows(ctx, RowFilter{State: StateDeferred})
	if err := e.ob.Fail(ctx, def[0].ID, "distributor left"); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := e.ob.Row(ctx, def[0].ID); r.State != StateFailed || !strings.Contains(r.LastReply, "distributor left") {
		t.Errorf("after Fail: %+v", r)
	}
	if _, _, err := e.ob.Row(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown row: %v", err)
	}
}
