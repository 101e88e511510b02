package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCountsFollowRows: outbox_count and inbound_count say what counting
// the rows says after inserts, state and class changes, other updates and
// deletes, and a rolled-back transaction leaves them as they were.
func TestCountsFollowRows(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := db.Writer()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := w.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 6 {
		exec(`INSERT INTO outbox (notice_id, kind, recipient, encrypt, message_id, token, env_from, state, created, next_attempt)
			VALUES ('n', 'ack', ?, 0, ?, ?, 'b@x', 'queued', 1, 1)`, fmt.Sprintf("r%d@x", i), fmt.Sprintf("m%d", i), fmt.Sprintf("t%d", i))
		exec(`INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received) VALUES ('INBOX', 1, ?, ?, 'm', 's', 1, 1)`,
			i+1, []byte{byte(i)})
	}
	steps := []string{
		`UPDATE outbox SET state = 'sending' WHERE id <= 4`,
		`UPDATE outbox SET state = 'sent' WHERE id <= 3`,
		`UPDATE outbox SET attempts = attempts + 1`,
		`UPDATE outbox SET state = 'bounced' WHERE id = 1`,
		`DELETE FROM outbox WHERE id = 2`,
		`UPDATE inbound SET state = 'processed', class = 'report' WHERE id <= 3`,
		`UPDATE inbound SET class = 'command' WHERE id = 3`,
		`UPDATE inbound SET state = 'quarantined', class = 'limit' WHERE id = 4`,
		`UPDATE inbound SET moved = 1`,
		`DELETE FROM inbound WHERE id = 5`,
	}
	check := func(after string) {
		t.Helper()
		for _, q := range [][2]string{
			{`SELECT state || ' ' || count(*) FROM outbox GROUP BY state`, `SELECT state || ' ' || n FROM outbox_count WHERE n != 0`},
			{`SELECT state || ' ' || class || ' ' || count(*) FROM inbound GROUP BY state, class`,
				`SELECT state || ' ' || class || ' ' || n FROM inbound_count WHERE n != 0`},
		} {
			if want, got := column(t, db, q[0]), column(t, db, q[1]); !slices.Equal(got, want) {
				t.Errorf("after %s: counters %q, rows %q", after, got, want)
			}
		}
	}
	check("the inserts")
	for _, q := range steps {
		exec(q)
		check(q)
	}
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE outbox SET state = 'failed'`); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	check("a rolled-back update")
}

func column(t *testing.T, db *DB, q string) []string {
	t.Helper()
	rows, err := db.Reader().Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestHistoryQueryPlans: the queries that run for every report, at every
// start and at every scrape read an index or a counter, never every row
// of a table that grows with the years (a scan of outbox, outbox_attempt
// or inbound, unless through a partial index that holds only the rows
// asked for). A change that makes one of them scan fails here.
func TestHistoryQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct{ what, query, uses string }{
		{"new cases of a sender today (intake)", `SELECT count(*) FROM inbound WHERE sender = ? AND received >= ? AND class = ? AND id != ?`, "inbound_sender_class"},
		{"a sender's rate (intake)", `SELECT count(*) FROM (SELECT 1 FROM inbound WHERE sender = ? AND received >= ? AND id <= ? LIMIT ?)`, "inbound_sender "},
		{"a sender's applications of the day (intake)", `SELECT count(*) FROM inbound WHERE sender = ? AND class IN (?, ?) AND received >= ? AND id != ?`, "inbound_sender"},
		{"applications of the day (intake)", `SELECT count(*) FROM inbound WHERE class = ? AND received >= ? AND id != ?`, "inbound_class_received"},
		{"rows being sent, at start (outbox)", `UPDATE outbox SET state = 'queued', next_attempt = min(next_attempt, last_attempt) WHERE state = 'sending'`, "outbox_sending"},
		{"attempts being made, at start (outbox)", `UPDATE outbox_attempt SET outcome = 'interrupted', finished = ? WHERE outcome = 'sending'`, "outbox_attempt_sending"},
		{"the claim's next row (outbox)", `SELECT min(next_attempt) FROM outbox WHERE state IN ('queued', 'deferred')`, "outbox_claim"},
		{"a case's mail (case show)", `SELECT id FROM outbox WHERE case_id = ? ORDER BY id`, "outbox_case"},
		{"an answer's thread (intake)", `SELECT case_id FROM outbox WHERE message_id = ?`, "sqlite_autoindex_outbox"},
		{"a bounce's row (intake)", `SELECT id FROM outbox WHERE token = ?`, "sqlite_autoindex_outbox"},
		{"a reply's thread (intake)", `SELECT id FROM inbound WHERE message_id = ?`, "inbound_message_id"},
		{"messages to process, at start (intake)", `SELECT id FROM inbound WHERE state IN ('stored', 'released') ORDER BY id`, "inbound_state"},
		{"due jobs (scheduler)", `SELECT id FROM schedule_job WHERE state = 'pending' AND due <= ? ORDER BY due, seq, id`, "schedule_job_due"},
		{"a case's audit chain", `SELECT seq, hash FROM case_audit WHERE case_id = ? ORDER BY seq DESC LIMIT 1`, "sqlite_autoindex_case_audit"},
		{"open cases (case list -open, SLA check)", `SELECT id FROM cases WHERE state NOT IN ('closed', 'wontfix', 'invalid') ORDER BY id DESC`, ""},
	} {
		plan := queryPlan(t, db, c.query)
		scans := false
		for _, step := range strings.Split(plan, "; ") {
			// A scan of a partial index reads only the rows it holds.
			big := strings.HasPrefix(step, "SCAN outbox") || strings.HasPrefix(step, "SCAN inbound")
			scans = scans || big && !(c.uses != "" && strings.Contains(step, "INDEX "+c.uses))
		}
		if scans || !strings.Contains(plan, c.uses) {
			t.Errorf("%s: plan %q, want a search using %s", c.what, plan, c.uses)
		}
	}
	for _, q := range []string{
		`SELECT n, state FROM outbox_count WHERE n > 0`, `SELECT n, state, class FROM inbound_count WHERE n > 0`,
	} {
		plan := queryPlan(t, db, q)
		if strings.Contains(plan, " outbox ") || strings.Contains(plan, " inbound ") {
			t.Errorf("%s reads the table itself: %q", q, plan)
		}
	}
}

// queryPlan is SQLite's plan for q (QueryPlan), its parameters bound to
// NULL.
func queryPlan(t *testing.T, db *DB, q string) string {
	t.Helper()
	plan, err := QueryPlan(context.Background(), db.Writer(), q, make([]any, strings.Count(q, "?"))...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return plan
}

// TestMigrateHistory: a database of years made before migration 21 opens
// with its counters holding what counting its rows says, and the counters
// follow the rows written after.
func TestMigrateHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := openPool("file:" + path + "?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	ms := migrations()
	at := slices.Index(ms, schemaHistory)
	for _, m := range ms[:at] {
		if _, err := old.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		state := [...]string{"sent", "sent", "bounced", "queued", "failed"}[i%5]
		if _, err := old.Exec(`INSERT INTO outbox (notice_id, kind, recipient, encrypt, message_id, token, env_from, state, created, next_attempt)
			VALUES ('n', 'ack', ?, 0, ?, ?, 'b@x', ?, 1, 1)`, fmt.Sprintf("r%d@x", i), fmt.Sprintf("m%d", i), fmt.Sprintf("t%d", i), state); err != nil {
			t.Fatal(err)
		}
		state, class := [...]string{"processed", "processed", "quarantined"}[i%3], [...]string{"report", "command"}[i%2]
		if _, err := old.Exec(`INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class)
			VALUES ('INBOX', 1, ?, ?, 'm', 's', 1, 1, ?, ?)`, i+1, []byte{byte(i)}, state, class); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`PRAGMA user_version = ` + strconv.Itoa(at)); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check := func(after string) {
		t.Helper()
		for _, q := range [][2]string{
			{`SELECT state || ' ' || count(*) FROM outbox GROUP BY state`, `SELECT state || ' ' || n FROM outbox_count WHERE n != 0`},
			{`SELECT state || ' ' || class || ' ' || count(*) FROM inbound GROUP BY state, class`,
				`SELECT state || ' ' || class || ' ' || n FROM inbound_count WHERE n != 0`},
		} {
			want, got := column(t, db, q[0]), column(t, db, q[1])
			if len(want) < 3 || !slices.Equal(got, want) {
				t.Errorf("after %s: counters %q, rows %q", after, got, want)
			}
		}
	}
	check("the migration")
	if _, err := db.Writer().Exec(`UPDATE outbox SET state = 'sent' WHERE state = 'queued'`); err != nil {
		t.Fatal(err)
	}
	check("a write after it")
}
