package main

import (
	"strconv"
	"strings"
	"testing"
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
			{[]string{"outbox", "fail"}, "want 1 argument(s): ID"},
			{[]string{"outbox", "nope"}, "want no arguments"},
			{[]string{"case"}, "case needs a subcommand: list, show"},
			{[]string{"quarantine", "nope"}, "quarantine needs a subcommand: list, show, release"},
		} {
			code, _, stderr := f.runNoKey(t, tt.args...)
			mustFail(t, code, stderr, tt.want)
		}
	})
}
