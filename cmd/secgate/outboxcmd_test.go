package main

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/distlist/smtpsink"
	"github.com/secgate/secgate/internal/clock"
	"github.com/secgate/secgate/store"
)

func TestOutboxCommands(t *testing.T) {
	f := newFixture(t)
	id := func(n int64) string { return strconv.FormatInt(n, 10) }

	t.Run("list", func(t *testing.T) {
		out := f.ok(t, false, "outbox")
		golden(t, "outbox", f.scrub(out))
		out = f.ok(t, false, "outbox", "--failed")
		if !strings.Contains(out, "alice@example.org") || strings.Contains(out, "dana@example.org") {
			t.Errorf("outbox --failed:\n%s", out)
		}
		out = f.ok(t, false, "outbox", "--state", "queued", "--case", f.ref)
		if strings.Contains(out, "alice@example.org") || !strings.Contains(out, "dana@example.org") {
			t.Errorf("outbox --state queued:\n%s", out)
		}
		var rows []outboxRowJSON
		decodeJSON(t, f.ok(t, false, "outbox", "--json", "--case", strings.ToLower(f.ref)), &rows)
		if len(rows) != 2 || rows[0].Case != f.ref || rows[0].MessageID == "" || !rows[0].Encrypted || rows[0].Created == nil {
			t.Errorf("JSON: %+v", rows)
		}
	})

	t.Run("show", func(t *testing.T) {
		out := f.ok(t, false, "outbox", "show", id(f.failed))
		for _, want := range []string{"state:        failed", "given up by the operator: test", "recipient:    alice@example.org", "next attempt: -\n", "history (0):"} {
			if !strings.Contains(out, want) {
				t.Errorf("outbox show lacks %q:\n%s", want, out)
			}
		}
		var row struct {
			outboxRowJSON
			History []attemptJSON `json:"history"`
		}
		decodeJSON(t, f.ok(t, false, "outbox", "show", id(f.queued), "--json"), &row)
		if row.ID != f.queued || row.State != "queued" || row.History == nil {
			t.Errorf("JSON: %+v", row)
		}
	})

	t.Run("retry and fail", func(t *testing.T) {
		code, _, stderr := f.runNoKey(t, "outbox", "retry", id(f.queued))
		mustFail(t, code, stderr, "row "+id(f.queued)+" is queued; only deferred or failed rows can be retried")
		out := f.ok(t, false, "outbox", "retry", id(f.failed))
		if !strings.Contains(out, "is queued and due now") {
			t.Errorf("retry: %q", out)
		}
		out = f.ok(t, false, "outbox", "fail", id(f.failed), "-reason", "recipient left")
		if !strings.Contains(out, "failed: given up by the operator: recipient left") {
			t.Errorf("fail: %q", out)
		}
		code, _, stderr = f.runNoKey(t, "outbox", "fail", id(f.failed))
		mustFail(t, code, stderr, "is failed; only queued or deferred rows can be failed")
	})

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"outbox", "show", "999"}, "no outbox row 999"},
			{[]string{"outbox", "retry", "999"}, "no outbox row 999"},
			{[]string{"outbox", "show", "x"}, `"x" is not a row ID`},
			{[]string{"outbox", "--case", "SEC-1999-0001"}, "no case SEC-1999-0001"},
			{[]string{"outbox", "--state", "lost"}, `unknown state "lost"`},
			{[]string{"outbox", "--failed", "--state", "sent"}, "exclude each other"},
			{[]string{"outbox", "fail"}, "want 1 argument: ID"},
			{[]string{"outbox", "nope"}, "want no arguments"},
		} {
			code, _, stderr := f.runNoKey(t, tt.args...)
			mustFail(t, code, stderr, tt.want)
		}
		// A group without its subcommand is a usage error: exit 2.
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"case"}, "case needs a subcommand: list, show"},
			{[]string{"quarantine", "nope"}, "quarantine needs a subcommand: list, show, release"},
		} {
			code, _, stderr := f.runNoKey(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line containing %q", tt.args, code, stderr, tt.want)
			}
		}
	})
}

// TestOutboxHistory delivers rows to a sink that defers one recipient and
// accepts the other, and reads the attempt history back.
func TestOutboxHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cfg, team := f.gatewayConfig(t)
	db, err := store.Open(ctx, cfg.Gateway.Database)
	if err != nil {
		t.Fatal(err)
	}
	dc := cfg.packageDistlist()
	dc.SMTP = distlist.SMTPConfig{Addr: sink.Addr, TLS: distlist.TLSNone}
	clk := clock.NewFake(fixtureTime)
	ob, err := distlist.NewOutbox(ctx, distlist.OutboxOptions{DB: db, TeamKey: team, Config: dc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var to []distlist.Recipient
	for _, addr := range []string{"temperror@example.org", "ok@example.org"} {
		k, err := crypto.GenerateKey("", addr, crypto.GenerateOptions{Created: keysCreated})
		if err != nil {
			t.Fatal(err)
		}
		to = append(to, distlist.Recipient{Address: addr, Key: k.Public()})
	}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := ob.Enqueue(ctx, tx, distlist.Mail{Kind: "answer", CaseID: f.caseID, NoticeID: "notice-2",
			Content: crypto.Content{Subject: "s", From: cfg.Gateway.Team, Entity: []byte("Content-Type: text/plain\r\n\r\nx\r\n")},
			Encrypt: true, Recipients: to})
		return err
	})
	if err == nil {
		clk.Advance(25 * time.Second)
		err = ob.Flush(ctx)
	}
	rows, rerr := ob.Rows(ctx, distlist.RowFilter{NoticeID: "notice-2"})
	db.Close()
	if err != nil || rerr != nil || len(rows) != 2 {
		t.Fatalf("deliver: %v, %v, %v", err, rerr, rows)
	}
	ids := map[string]string{}
	for _, r := range rows {
		ids[r.Recipient] = strconv.FormatInt(r.ID, 10)
	}

	out := f.ok(t, false, "outbox", "show", ids["temperror@example.org"])
	for _, want := range []string{"state:        deferred", "attempts:     1", "history (1):", "  #1  2030-01-02 09:30:25 UTC  deferred  451",
		"created:      2030-01-02 09:30:00 UTC\n", "last attempt: 2030-01-02 09:30:25 UTC\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("outbox show of a deferred row lacks %q:\n%s", want, out)
		}
	}
	var sent struct {
		outboxRowJSON
		History []attemptJSON `json:"history"`
	}
	decodeJSON(t, f.ok(t, false, "outbox", "show", ids["ok@example.org"], "--json"), &sent)
	if sent.State != "sent" || len(sent.History) != 1 || sent.History[0].Code != 250 {
		t.Errorf("sent row JSON: %+v", sent)
	}
	out = f.ok(t, false, "outbox", "--state", "deferred")
	if !strings.Contains(out, "temperror@example.org") || !strings.Contains(out, "451") {
		t.Errorf("outbox --state deferred:\n%s", out)
	}
	// The time column is when a row was last tried (queued: the golden
	// file of TestOutboxCommands).
	out = f.ok(t, false, "outbox", "--state", "sent")
	if lines := strings.Split(out, "\n"); len(lines) != 4 || !strings.Contains(lines[0], "  TIME  ") ||
		!strings.Contains(lines[1], "  2030-01-02 09:30:25 UTC  ") || !strings.Contains(lines[2], "  2030-01-02 09:30:25 UTC  ") {
		t.Errorf("outbox --state sent: want the time of the attempt, 2030-01-02 09:30:25 UTC:\n%s", out)
	}
	code, _, stderr := f.runNoKey(t, "outbox", "retry", ids["ok@example.org"])
	mustFail(t, code, stderr, "is sent; only deferred or failed rows can be retried")
	f.ok(t, false, "outbox", "retry", ids["temperror@example.org"])
	f.ok(t, false, "outbox", "fail", ids["temperror@example.org"])
}
