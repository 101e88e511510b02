package intake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/store"
)

// TestHandOverIsStoredCopy: what the poller hands to the processor is the
// row and the bytes the database holds, and only of a message inserted
// then, small and to be processed.
func TestHandOverIsStoredCopy(t *testing.T) {
	e := newBenchEnv(t)
	ctx := context.Background()
	small := e.report(t, 1)
	big := append(bytes.Clone(small[:len(small)-2]), bytes.Repeat([]byte("A"), handOverMax)...)
	tests := []struct {
		name   string
		m      fetched
		handed bool
	}{
		{"a small report", fetched{uid: 1, raw: small}, true},
		{"a note of its route kept", fetched{uid: 2, raw: e.report(t, 2), reason: "routed by To"}, true},
		{"bigger than handOverMax", fetched{uid: 3, raw: big}, false},
		{"stored quarantined", fetched{uid: 4, raw: e.report(t, 4), held: true, class: ClassRoute, reason: "no project"}, false},
		{"the same UID stored before", fetched{uid: 1, raw: small}, false},
		{"the same bytes stored before under another UID", fetched{uid: 5, raw: small}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.size = int64(len(tc.m.raw))
			msgs := []fetched{tc.m}
			ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, msgs, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			given := handedOver(msgs, ids)[ids[0]]
			if (given != nil) != tc.handed {
				t.Fatalf("handed over: %v, want %v", given != nil, tc.handed)
			}
			if given == nil {
				return
			}
			stored, err := getInbound(ctx, e.db.Reader(), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&given.in, stored) {
				t.Errorf("handed over the row\n%+v\nthe database holds\n%+v", given.in, *stored)
			}
			raw, err := rawMessage(ctx, e.db.Reader(), e.team, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(given.raw, raw) {
				t.Errorf("handed over %d bytes, the database holds %d others", len(given.raw), len(raw))
			}
		})
	}
}

var keyID = regexp.MustCompile(`key ID [0-9A-F]{16}`)

// TestHandOverSameOutcome: a batch of messages of every kind the
// processor decides on ends the same way whether the poller hands the
// messages over as stored or the processor reads them back (as after a
// restart), and handed over each costs three statements less.
func TestHandOverSameOutcome(t *testing.T) {
	type result struct {
		rows      []string       // each message's state, class, reason, whether it opened a case
		outbox    map[string]int // mail queued, by kind
		cases     int
		stmts     uint64
		processed int
	}
	run := func(t *testing.T, handOver bool) result {
		e := newBenchEnv(t)
		ctx := store.ShortStatements(context.Background())
		first := e.report(t, 0)
		replayed := bytes.Replace(first, []byte("Message-ID: <bench-0@"), []byte("Message-ID: <bench-again@"), 1)
		replayed = bytes.Replace(replayed, []byte("reporter-0@"), []byte("someone-else@"), 1)
		clear := func(header, body string) []byte {
			return []byte("From: Reporter <clear@outside.example>\r\nTo: security@example.test\r\nSubject: a report in clear\r\n" +
				header + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
		}
		raws := [][]byte{
			first,
			e.report(t, 1),
			replayed,
			clear("Message-ID: <clear-1@outside.example>\r\n", "The parser overflows on a long token."),
			clear("Message-ID: <clear-1@outside.example>\r\n", "Other content under the same Message-ID."),
			clear("Message-ID: <auto@outside.example>\r\nAuto-Submitted: auto-replied\r\n", "I am away."),
			clear("Message-ID: <empty@outside.example>\r\n", " "),
			clear("Message-ID: <two@outside.example>\r\nFrom: other@outside.example\r\n", "Two From fields."),
		}
		msgs := make([]fetched, len(raws))
		for i, raw := range raws {
			msgs[i] = fetched{uid: uint32(i + 1), size: int64(len(raw)), raw: raw}
		}
		ids, err := storeBatch(ctx, e.db, e.team, "INBOX", 1, msgs, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s0 := e.db.Statements()
		if handOver {
			given := handedOver(msgs, ids)
			if len(given) != len(msgs) {
				t.Fatalf("%d of %d messages handed over", len(given), len(msgs))
			}
			err = e.proc.processStored(ctx, ids, given)
		} else {
			err = e.proc.ProcessBatch(ctx, ids)
		}
		if err != nil {
			t.Fatal(err)
		}
		r := result{stmts: e.db.Statements() - s0, outbox: map[string]int{}}
		rows, err := e.db.Reader().Query(`SELECT state, class, reason, case_id IS NOT NULL FROM inbound ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var state, class, reason string
			var hasCase bool
			if err := rows.Scan(&state, &class, &reason, &hasCase); err != nil {
				t.Fatal(err)
			}
			// Each run has keys of its own.
			reason = keyID.ReplaceAllString(reason, "key ID (the reporter's)")
			r.rows = append(r.rows, fmt.Sprintf("%s %s %q case %v", state, class, reason, hasCase))
			if state == StateProcessed || state == StateQuarantined {
				r.processed++
			}
		}
		kinds, err := e.db.Reader().Query(`SELECT kind, count(*) FROM outbox GROUP BY kind`)
		if err != nil {
			t.Fatal(err)
		}
		defer kinds.Close()
		for kinds.Next() {
			var kind string
			var n int
			if err := kinds.Scan(&kind, &n); err != nil {
				t.Fatal(err)
			}
			r.outbox[kind] = n
		}
		if err := e.db.Reader().QueryRow(`SELECT count(*) FROM cases`).Scan(&r.cases); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return r
	}
	back, handed := run(t, false), run(t, true)
	if back.processed != len(back.rows) || back.cases < 3 {
		t.Fatalf("read back: %d of %d messages handled, %d cases:\n%s", back.processed, len(back.rows), back.cases, strings.Join(back.rows, "\n"))
	}
	if !reflect.DeepEqual(back.rows, handed.rows) {
		t.Errorf("outcomes differ:\nread back:\n%s\nhanded over:\n%s", strings.Join(back.rows, "\n"), strings.Join(handed.rows, "\n"))
	}
	if !reflect.DeepEqual(back.outbox, handed.outbox) || back.cases != handed.cases {
		t.Errorf("read back queued %v in %d cases, handed over %v in %d", back.outbox, back.cases, handed.outbox, handed.cases)
	}
	if saved := int64(back.stmts) - int64(handed.stmts); saved != 3*int64(len(back.rows)) {
		t.Errorf("handed over: %d statements, read back %d: %d saved, want 3 a message (the row, the length of its bytes, the bytes)",
			handed.stmts, back.stmts, saved)
	}
}
