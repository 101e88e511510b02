package cases

import (
	"bytes"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/distlist"
	"github.com/secgate/secgate/store"
)

// archiveEnv is env with an archive database and an Archiver between them.
type archiveEnv struct {
	*env
	adb *store.DB
	awf *Workflow
	arc *Archiver
}

func newArchiveEnv(t testing.TB) *archiveEnv {
	t.Helper()
	e := newEnv(t)
	adb, err := store.Open(e.ctx, filepath.Join(t.TempDir(), "gw.archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adb.Close() })
	awf, err := New(Options{DB: adb, Directory: distlist.NewDirectory(adb, e.clock, nil), Outbox: e.ob, TeamKey: e.team,
		TeamAddress: teamAddr, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return &archiveEnv{env: e, adb: adb, awf: awf, arc: &Archiver{Live: e.wf, Archive: awf}}
}

// ended opens a case with a follow-up whose attachment is bigger than a
// stored piece (so that it is stored in pieces), records an untrusted
// line and ends the case as wontfix.
func (e *archiveEnv) ended(big []byte) *Case {
	e.t.Helper()
	c := e.open(true)
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		if err := e.wf.AddMessage(e.ctx, tx, c.ID, Message{Kind: KindFollowUp, Author: "rita@reporter.example",
			MessageID: "<f-" + c.Ref + "@reporter.example>", Subject: "more", Text: "FOLLOWUP-TEXT\n/status closed",
			Attachments: []Attachment{{Filename: "trace.bin", ContentType: "application/octet-stream", Data: big}},
			Received:    e.clock.Now()}); err != nil {
			return err
		}
		if err := e.wf.RecordUntrusted(e.ctx, tx, c.ID, "/list add evil-"+c.Ref+"@example.net"); err != nil {
			return err
		}
		// The report as intake stores it: the row, its bytes (sealed),
		// the hash of its ciphertext.
		sum := []byte(c.Ref + "-sha256")
		r, err := tx.ExecContext(e.ctx, `INSERT INTO inbound (mailbox, uidvalidity, uid, sha256, message_id, sender, size, received, state, class, case_id, processed)
			VALUES ('INBOX', 1, ?, ?, '<report-1@reporter.example>', 'rita@reporter.example', 100, ?, 'processed', 'report', ?, ?)`,
			c.ID, sum, store.Millis(e.clock.Now()), c.ID, store.Millis(e.clock.Now()))
		if err != nil {
			return err
		}
		in, _ := r.LastInsertId()
		if _, err := tx.ExecContext(e.ctx, `INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)`, in, []byte("sealed bytes")); err != nil {
			return err
		}
		if _, err := tx.ExecContext(e.ctx, `INSERT INTO inbound_cipher (sha256, inbound_id, sender) VALUES (?, ?, 'rita@reporter.example')`, sum, in); err != nil {
			return err
		}
		return e.wf.SetState(e.ctx, tx, c.ID, StateWontfix, e.member("alice@example.org").Fingerprint, "not a bug")
	})
	if err != nil {
		e.t.Fatal(err)
	}
	// Nothing delivers here: the answers to the reporter end failed.
	rows, err := e.ob.Rows(e.ctx, distlist.RowFilter{CaseID: c.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if err := e.ob.Fail(e.ctx, r.ID, "no delivery in this test"); err != nil {
			e.t.Fatal(err)
		}
	}
	return c
}

func (e *archiveEnv) count(db *store.DB, q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := db.Reader().QueryRowContext(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// caseRows counts case id's rows in every table archive moves.
func (e *archiveEnv) caseRows(db *store.DB, id int64) map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, t := range archiveTables {
		out[t.name+" "+t.where] = e.count(db, `SELECT count(*) FROM `+t.name+` WHERE `+t.where, id)
	}
	return out
}

func (e *archiveEnv) verifies(w *Workflow) error {
	e.t.Helper()
	chk, err := w.VerifyAuditLog(e.ctx, e.team.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	return chk.Err()
}

func TestArchiveMovesEndedCase(t *testing.T) {
	e := newArchiveEnv(t)
	big := bytes.Repeat([]byte("BIG-ATTACHMENT "), (store.ChunkSize/15)+1000)
	done := e.ended(big)
	open := e.open(false)
	held := e.ended([]byte("small"))
	// A notice of the held case still waits in the outbox.
	err := e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		m := e.member("bob@example.org")
		_, err := e.ob.Enqueue(e.ctx, tx, distlist.Mail{Kind: "reply", CaseID: held.ID, NoticeID: "n-held",
			Content: crypto.Content{Subject: "x", From: teamAddr, Entity: []byte("Content-Type: text/plain\r\n\r\nx\r\n")},
			Encrypt: true, Recipients: []distlist.Recipient{{Address: m.Address, Key: m.Key}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := e.caseRows(e.db, done.ID)
	if before["blob_chunk owner = 'case_attachments' AND id IN ("+caseAttachmentIDs+")"] == 0 {
		t.Fatal("the big attachment is not stored in pieces: the test does not exercise blob_chunk")
	}
	if before["inbound_raw inbound_id IN ("+caseInboundIDs+")"] != 1 {
		t.Fatal("the case has no stored inbound bytes: the test does not exercise inbound_raw")
	}
	ciphers := e.count(e.db, `SELECT count(*) FROM inbound_cipher`)
	e.clock.Advance(48 * time.Hour)
	cut := e.clock.Now()

	cands, nopen, err := e.arc.Candidates(e.ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if nopen != 1 || len(cands) != 2 || cands[0].ID != done.ID || cands[0].Hold != "" ||
		cands[1].ID != held.ID || !strings.Contains(cands[1].Hold, "outbox rows not in a final state: 1") {
		t.Fatalf("candidates %+v, %d open; want %s free, %s held by its outbox row, 1 open (%s)", cands, nopen, done.Ref, held.Ref, open.Ref)
	}
	res, err := e.arc.Move(e.ctx, held.ID, cut)
	if err != nil || !strings.Contains(res.Hold, "outbox") {
		t.Fatalf("move of the held case: %+v, %v", res, err)
	}
	if _, err := e.arc.Move(e.ctx, open.ID, cut); err != nil {
		t.Fatal(err)
	}
	if res, err = e.arc.Move(e.ctx, done.ID, cut); err != nil || res.Hold != "" || res.Rows == 0 {
		t.Fatalf("move: %+v, %v", res, err)
	}
	// Only the ended, free case moved.
	for _, c := range []*Case{open, held} {
		if _, err := e.wf.GetByID(e.ctx, c.ID); err != nil {
			t.Errorf("%s left the project's database: %v", c.Ref, err)
		}
		if _, err := e.awf.GetByID(e.ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s is in the archive: %v", c.Ref, err)
		}
	}
	if _, err := e.wf.GetByID(e.ctx, done.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("%s is still in the project's database: %v", done.Ref, err)
	}
	after := e.caseRows(e.adb, done.ID)
	left := e.caseRows(e.db, done.ID)
	for _, tb := range archiveTables {
		k := tb.name + " " + tb.where
		if after[k] != before[k] {
			t.Errorf("%s: %d rows in the archive, %d before", k, after[k], before[k])
		}
		if want := map[bool]int{true: before[k], false: 0}[tb.keep]; left[k] != want {
			t.Errorf("%s: %d rows left in the project's database, want %d", k, left[k], want)
		}
	}
	// The hash of the report's ciphertext stays: the same ciphertext
	// sent again is still a replay.
	if n := e.count(e.db, `SELECT count(*) FROM inbound_cipher`); n != ciphers {
		t.Errorf("%d ciphertext hashes left of %d", n, ciphers)
	}
	// Sealed content stays sealed, and the team key opens it.
	msgs, err := e.awf.Messages(e.ctx, done.ID)
	if err != nil || len(msgs) != 2 || !strings.Contains(msgs[0].Text, "SECRET-REPORT-TEXT") ||
		!bytes.Equal(msgs[1].Attachments[0].Data, big) {
		t.Fatalf("archived messages: %d, %v", len(msgs), err)
	}
	// Both logs verify, each under its own signed head.
	if err := e.verifies(e.wf); err != nil {
		t.Errorf("the project's audit log: %v", err)
	}
	if err := e.verifies(e.awf); err != nil {
		t.Errorf("the archive's audit log: %v", err)
	}
	// The archived case's number and id are never given again.
	next := e.open(false)
	if next.ID <= held.ID || next.Ref == done.Ref {
		t.Errorf("new case %s id %d after archiving %s (id %d)", next.Ref, next.ID, done.Ref, done.ID)
	}
	// A line the gateway sent as someone else's words in the archived
	// case still never runs as a command that needs no case.
	err = e.db.Tx(e.ctx, func(tx *sql.Tx) error {
		c, err := untrustedCommand(e.ctx, tx, 0, []Command{{Raw: "/list add evil-" + done.Ref + "@example.net"}})
		if err == nil && c == nil {
			err = errors.New("the archived case's untrusted line runs as a command")
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	// Nothing is left to do: a second run finds no candidate to move.
	cands, _, err = e.arc.Candidates(e.ctx, cut)
	if err != nil || len(cands) != 1 || cands[0].ID != held.ID {
		t.Errorf("candidates after the move: %+v, %v", cands, err)
	}
}

// TestArchiveResumesAfterCrash cuts a move short after each step (the
// process dies there: the step panics) and checks that the next move
// finishes it with nothing lost and nothing twice.
func TestArchiveResumesAfterCrash(t *testing.T) {
	for _, stop := range []string{"row", "copied", "moved"} {
		t.Run(stop, func(t *testing.T) {
			e := newArchiveEnv(t)
			c := e.ended([]byte("att"))
			before := e.caseRows(e.db, c.ID)
			e.clock.Advance(time.Hour)
			cut := e.clock.Now()
			killed := errors.New("killed")
			e.arc.Step = func(s string) error {
				if s == stop {
					return killed
				}
				return nil
			}
			if _, err := e.arc.Move(e.ctx, c.ID, cut); !errors.Is(err, killed) {
				t.Fatalf("the move was not cut short: %v", err)
			}
			e.arc.Step = nil
			if stop != "moved" {
				if _, err := e.arc.Move(e.ctx, c.ID, cut); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.arc.Move(e.ctx, c.ID, cut); !errors.Is(err, ErrNotFound) {
				t.Errorf("a move of a moved case: %v, want ErrNotFound", err)
			}
			after := e.caseRows(e.adb, c.ID)
			for k, n := range before {
				if after[k] != n {
					t.Errorf("%s: %d rows in the archive, %d before", k, after[k], n)
				}
			}
			if n := e.count(e.db, `SELECT count(*) FROM cases WHERE id = ?`, c.ID); n != 0 {
				t.Errorf("the case is still in the project's database")
			}
			if err := e.verifies(e.awf); err != nil {
				t.Errorf("the archive's audit log: %v", err)
			}
			// The archived case had the highest id and number: a new
			// case takes neither again.
			if next := e.open(false); next.ID == c.ID || next.Ref == c.Ref {
				t.Errorf("new case %s (id %d) after archiving %s (id %d)", next.Ref, next.ID, c.Ref, c.ID)
			}
			if err := e.verifies(e.wf); err != nil {
				t.Errorf("the project's audit log: %v", err)
			}
		})
	}
}

// TestArchiveTamperedFails changes an archived event's detail: the
// archive's log no longer verifies.
func TestArchiveTamperedFails(t *testing.T) {
	e := newArchiveEnv(t)
	c := e.ended([]byte("att"))
	e.clock.Advance(time.Hour)
	if _, err := e.arc.Move(e.ctx, c.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.verifies(e.awf); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER case_audit_no_update`,
		`UPDATE case_audit SET detail = 'rewritten' WHERE case_id = 1 AND seq = 1`} {
		if _, err := e.adb.Writer().ExecContext(e.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.verifies(e.awf); !errors.Is(err, ErrAuditBroken) {
		t.Errorf("tampered archive verifies: %v", err)
	}
}

// TestArchiveTablesCoverSchema fails when a table of the schema is
// neither moved (archiveTables) nor named as not holding a case's rows.
func TestArchiveTablesCoverSchema(t *testing.T) {
	e := newEnv(t)
	known := map[string]bool{}
	for _, tb := range archiveTables {
		known[tb.name] = true
	}
	for _, n := range notCaseTables {
		known[n] = true
	}
	rows, err := e.db.Reader().QueryContext(e.ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		rows.Scan(&n)
		if !known[n] {
			t.Errorf("table %s: archive neither moves it nor says it holds nothing of a case (cases/archivetables.go, README)", n)
		}
		delete(known, n)
	}
	for n := range known {
		t.Errorf("archivetables.go names %s, which is no table", n)
	}
}

// TestArchiveCaseChangedWhileCopied writes an audit event on the case
// between the copy and the delete: the case stays in the project's
// database, and the next move copies the new event too.
func TestArchiveCaseChangedWhileCopied(t *testing.T) {
	e := newArchiveEnv(t)
	c := e.ended([]byte("att"))
	e.clock.Advance(time.Hour)
	cut := e.clock.Now().Add(time.Hour)
	e.arc.Step = func(s string) error {
		if s != "copied" {
			return nil
		}
		return e.db.Tx(e.ctx, func(tx *sql.Tx) error {
			return e.wf.Audit(e.ctx, tx, c.ID, ActorGateway, "refused", "a late command", "")
		})
	}
	res, err := e.arc.Move(e.ctx, c.ID, cut)
	if err != nil || !strings.Contains(res.Hold, "changed while it was copied") {
		t.Fatalf("move of a case that changed: %+v, %v", res, err)
	}
	if _, err := e.wf.GetByID(e.ctx, c.ID); err != nil {
		t.Fatalf("the changed case left the project's database: %v", err)
	}
	e.arc.Step = nil
	if res, err = e.arc.Move(e.ctx, c.ID, cut); err != nil || res.Hold != "" {
		t.Fatalf("second move: %+v, %v", res, err)
	}
	live, _ := e.wf.AuditLog(e.ctx, c.ID)
	arch, _ := e.awf.AuditLog(e.ctx, c.ID)
	if len(arch) != len(live) || arch[len(arch)-1].Action != "refused" {
		t.Errorf("archived chain has %d events, the project's %d", len(arch), len(live))
	}
	if err := e.verifies(e.awf); err != nil {
		t.Error(err)
	}
}

// BenchmarkArchive moves b.N ended cases (a report with an attachment,
// a follow-up, an untrusted line, an answer in the outbox, audit events),
// one per iteration, and reports how long a move held the project's
// writer (its second transaction: the check and the delete): median, 99th
// percentile and longest.
func BenchmarkArchive(b *testing.B) {
	e := newArchiveEnv(b)
	ids := make([]int64, b.N)
	for i := range ids {
		ids[i] = e.ended([]byte("attachment")).ID
	}
	e.clock.Advance(time.Hour)
	cut := e.clock.Now()
	var copied time.Time
	var holds []time.Duration
	e.arc.Step = func(s string) error {
		switch s {
		case "copied":
			copied = time.Now()
		case "moved":
			holds = append(holds, time.Since(copied))
		}
		return nil
	}
	moves := make([]time.Duration, len(ids))
	b.ResetTimer()
	for i, id := range ids {
		start := time.Now()
		if res, err := e.arc.Move(e.ctx, id, cut); err != nil || res.Hold != "" {
			b.Fatalf("move: %+v, %v", res, err)
		}
		moves[i] = time.Since(start)
	}
	b.StopTimer()
	// The last tenth of the moves against the first: a move into an
	// archive of many cases, out of a database that held them, costs
	// what the first did (1.0).
	if n := len(moves) / 10; n > 0 {
		var first, last time.Duration
		for i := range n {
			first += moves[i]
			last += moves[len(moves)-1-i]
		}
		b.ReportMetric(float64(last)/float64(first), "last/first-tenth")
	}
	slices.Sort(holds)
	b.ReportMetric(float64(holds[len(holds)/2].Microseconds())/1000, "p50-writer-ms")
	b.ReportMetric(float64(holds[len(holds)*99/100].Microseconds())/1000, "p99-writer-ms")
	b.ReportMetric(float64(holds[len(holds)-1].Microseconds())/1000, "max-writer-ms")
	if err := e.verifies(e.awf); err != nil {
		b.Fatal(err)
	}
}

// TestArchiveQueriesUseIndexes checks that no query a move runs per
// case scans a table: a move costs the same in a database of ten years.
func TestArchiveQueriesUseIndexes(t *testing.T) {
	e := newEnv(t)
	var qs []string
	for _, tb := range archiveTables {
		qs = append(qs, `SELECT * FROM `+tb.name+` WHERE `+tb.where+` ORDER BY `+tb.order)
		if !tb.keep {
			qs = append(qs, `DELETE FROM `+tb.name+` WHERE `+tb.where)
		}
	}
	for _, p := range archivePending {
		qs = append(qs, p.query)
	}
	qs = append(qs, `SELECT seq, at, actor, action, detail, source, prev_hash, hash FROM case_audit WHERE case_id = ?1 ORDER BY seq`)
	for _, q := range qs {
		plan, err := store.QueryPlan(e.ctx, e.db.Reader(), q, 1)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, step := range strings.Split(plan, "; ") {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("%s\n  scans: %s", q, plan)
				break
			}
		}
	}
}

// TestArchiveHolds: a case that ended is kept while anything of it is
// pending, each named.
func TestArchiveHolds(t *testing.T) {
	for _, tc := range []struct {
		name, pending, want string
	}{
		{"outbox", `UPDATE outbox SET state = 'deferred' WHERE case_id = ?1`, "outbox rows not in a final state"},
		{"alert", `INSERT INTO outbox_event (kind, outbox_id, notice_id, case_id, recipient, reason, created) VALUES ('failed', 1, 'n', ?1, 'a@b', 'x', 1)`, "delivery alerts the team was not told of yet: 1"},
		{"job", `INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, created) VALUES (?1, 'retrospective', 1, 1, 1, 'pending', 1)`, "scheduled jobs pending: 1"},
		{"approval", `INSERT INTO case_approval (ref, case_id, author, line_enc, what, message_id, created, expires) VALUES ('AP-1', ?1, 'F', x'00', 'close', '<m>', 1, 2)`, "approvals pending: 1"},
		{"inbound", `UPDATE inbound SET state = 'quarantined' WHERE case_id = ?1`, "inbound messages not processed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newArchiveEnv(t)
			c := e.ended([]byte("att"))
			if _, err := e.db.Writer().ExecContext(e.ctx, tc.pending, c.ID); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Hour)
			cands, _, err := e.arc.Candidates(e.ctx, e.clock.Now())
			if err != nil || len(cands) != 1 || !strings.Contains(cands[0].Hold, tc.want) {
				t.Fatalf("candidates %+v, %v; want held: %s", cands, err, tc.want)
			}
			res, err := e.arc.Move(e.ctx, c.ID, e.clock.Now())
			if err != nil || !strings.Contains(res.Hold, tc.want) {
				t.Fatalf("move: %+v, %v", res, err)
			}
			if n := e.count(e.adb, `SELECT count(*) FROM cases`); n != 0 {
				t.Errorf("a held case was copied")
			}
		})
	}
}
