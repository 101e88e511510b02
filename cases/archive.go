package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
	"time"

	"github.com/secgate/secgate/store"
)

// An Archiver moves ended cases from a project's database into its archive
// database (`secgate archive -before DATE`). The logic is here, in package
// cases, because what makes a case done (its state, nothing pending) and
// its audit chain (the signed heads) are this package's.
//
// SQLite commits atomically in one database file only, so a move is made
// idempotent instead, one case at a time:
//
//  1. In one read transaction of the project's database and one write
//     transaction of the archive, every row of the case (archiveTables)
//     is copied, the audit events are appended to the archive's own log
//     under a head the team key signs, and archived_case records the
//     copy with the digest of the rows copied. The copy is whole or
//     absent.
//  2. In one write transaction of the project's database the case is
//     checked again (still done, its rows still the digest copied), its
//     rows deleted but those kept (archiveTables), and archived_case
//     records the move: the case's id and number stay taken.
//
// A crash between 1 and 2 leaves the case whole in both; the next run
// copies it again (an upsert, so nothing is duplicated) and finishes 2.
// Each step holds the writer for one case only, so a running gateway
// waits at most that long.
type Archiver struct {
	Live    *Workflow // the project's database
	Archive *Workflow // the archive database; holds the private team key to sign its heads
	// Step, when set, is called after each step of a move: "row" after a
	// row is written in the archive's open transaction, "copied" once the
	// copy is committed, "moved" once the case is deleted from the
	// project's database. The crash test kills the process there; an
	// error stops the move there as a crash would (what the open
	// transaction wrote is rolled back).
	Step func(step string) error
}

// ArchiveCandidate is a case that ended before the date asked.
type ArchiveCandidate struct {
	ID     int64
	Ref    string
	State  State
	Closed time.Time // its last change
	// Hold says why it cannot be archived now ("" when it can): something
	// it still waits for.
	Hold string
}

// ArchiveResult is what a move did.
type ArchiveResult struct {
	Rows  int // rows copied to the archive
	Moved int // rows deleted from the project's database
	// Hold is set when the case was not moved: it is not done any more
	// (it changed while it was copied, or something is pending).
	Hold string
}

// Candidates lists the ended cases (closed, wontfix, invalid) whose last
// change is before before, oldest first, each with what holds it back,
// and counts the cases still open that were last changed before then.
func (a *Archiver) Candidates(ctx context.Context, before time.Time) (out []ArchiveCandidate, open int, err error) {
	q := a.Live.db.Reader()
	rows, err := q.QueryContext(ctx, `SELECT id, ref, state, updated FROM cases WHERE updated < ? ORDER BY id`, store.Millis(before))
	if err != nil {
		return nil, 0, fmt.Errorf("cases: archive: %w", err)
	}
	for rows.Next() {
		var c ArchiveCandidate
		var state string
		var updated int64
		if err := rows.Scan(&c.ID, &c.Ref, &state, &updated); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("cases: archive: %w", err)
		}
		c.State, c.Closed = State(state), store.Time(updated)
		if !terminal(c.State) {
			open++
			continue
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("cases: archive: %w", err)
	}
	for i := range out {
		if out[i].Hold, err = pendingOf(ctx, q, out[i].ID); err != nil {
			return nil, 0, err
		}
	}
	return out, open, nil
}

// pendingOf says what case id still waits for, "" for nothing.
func pendingOf(ctx context.Context, q querier, id int64) (string, error) {
	var holds []string
	for _, p := range archivePending {
		var n int
		if err := q.QueryRowContext(ctx, p.query, id).Scan(&n); err != nil {
			return "", fmt.Errorf("cases: archive %d: %w", id, err)
		}
		if n > 0 {
			holds = append(holds, fmt.Sprintf("%s: %d", p.what, n))
		}
	}
	return strings.Join(holds, ", "), nil
}

// holdOf says why case id cannot be archived under before, "" when it can:
// gone (ErrNotFound), open, changed since, or waiting for something.
func holdOf(ctx context.Context, q querier, id int64, before time.Time) (string, error) {
	var state string
	var updated int64
	err := q.QueryRowContext(ctx, `SELECT state, updated FROM cases WHERE id = ?`, id).Scan(&state, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("cases: archive %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("cases: archive %d: %w", id, err)
	}
	switch {
	case !terminal(State(state)):
		return "open (" + state + ")", nil
	case updated >= store.Millis(before):
		return "changed on " + store.Time(updated).Format(time.RFC3339), nil
	}
	return pendingOf(ctx, q, id)
}

// Move moves case id into the archive if it is still done and last
// changed before before. A case the archive holds already (a move a crash
// cut short) is copied again, which changes nothing there, and deleted
// from the project's database. The error wraps ErrNotFound for a case
// the project's database no longer holds (moved already).
func (a *Archiver) Move(ctx context.Context, id int64, before time.Time) (ArchiveResult, error) {
	res, digest, err := a.copyCase(ctx, id, before)
	if err != nil || res.Hold != "" {
		return res, err
	}
	if err := a.step("copied"); err != nil {
		return res, err
	}
	err = a.Live.db.Tx(ctx, func(tx *sql.Tx) error {
		hold, err := holdOf(ctx, tx, id, before)
		if err != nil || hold != "" {
			res.Hold = hold
			return err
		}
		again, _, err := a.readCase(ctx, tx, nil, id)
		if err != nil {
			return err
		}
		if again != digest {
			res.Hold = "changed while it was copied (run archive again)"
			return nil
		}
		// Marked first: the mark takes the reference from the cases row.
		if err := markArchived(ctx, tx, a.Live.now(), id, digest); err != nil {
			return err
		}
		var ref string
		if err := tx.QueryRowContext(ctx, `SELECT ref FROM archived_case WHERE id = ?`, id).Scan(&ref); err != nil {
			return fmt.Errorf("cases: archive %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO archived_untrusted_line (line_hash)
			SELECT line_hash FROM case_untrusted_line WHERE case_id = ? ON CONFLICT DO NOTHING`, id); err != nil {
			return fmt.Errorf("cases: archive %d: %w", id, err)
		}
		for i := len(archiveTables) - 1; i >= 0; i-- {
			t := archiveTables[i]
			if t.keep {
				continue
			}
			r, err := tx.ExecContext(ctx, `DELETE FROM `+t.name+` WHERE `+t.where, id)
			if err != nil {
				return fmt.Errorf("cases: archive %d: delete from %s: %w", id, t.name, err)
			}
			n, _ := r.RowsAffected()
			res.Moved += int(n)
		}
		// The gateway log, under the signed heads, says where the case went.
		return a.Live.Audit(ctx, tx, GatewayLog, ActorGateway, "archive",
			fmt.Sprintf("case %d (%s) moved to the archive database: %d rows copied, %d deleted, its audit chain kept", id, ref, res.Rows, res.Moved), "")
	})
	if err != nil || res.Hold != "" {
		return res, err
	}
	return res, a.step("moved")
}

func (a *Archiver) step(s string) error {
	if a.Step == nil {
		return nil
	}
	if err := a.Step(s); err != nil {
		return fmt.Errorf("cases: archive: stopped after %s: %w", s, err)
	}
	return nil
}

// copyCase copies case id into the archive in one transaction of each
// database and returns the digest of what it copied.
func (a *Archiver) copyCase(ctx context.Context, id int64, before time.Time) (ArchiveResult, string, error) {
	var res ArchiveResult
	rtx, err := a.Live.db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, "", fmt.Errorf("cases: archive %d: %w", id, err)
	}
	defer rtx.Rollback()
	if res.Hold, err = holdOf(ctx, rtx, id, before); err != nil || res.Hold != "" {
		return res, "", err
	}
	var digest string
	err = a.Archive.db.Tx(ctx, func(tx *sql.Tx) error {
		// The rows are written parents first, but a blob piece or a
		// reply may come before what it names in a table's order.
		if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		var err error
		if digest, res.Rows, err = a.readCase(ctx, rtx, tx, id); err != nil {
			return err
		}
		return markArchived(ctx, tx, a.Live.now(), id, digest)
	})
	return res, digest, err
}

// markArchived records in tx's database that case id was archived: its
// reference and number from the cases row (still there in both: the
// row is deleted after this in the project's database).
func markArchived(ctx context.Context, tx *sql.Tx, now time.Time, id int64, digest string) error {
	r, err := tx.ExecContext(ctx, `INSERT INTO archived_case (id, ref, prefix, year, seq, closed, digest, archived)
		SELECT id, ref, prefix, year, seq, updated, ?2, ?3 FROM cases WHERE id = ?1
		ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, archived = excluded.archived`, id, digest, store.Millis(now))
	if err != nil {
		return fmt.Errorf("cases: archive %d: mark: %w", id, err)
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("cases: archive %d: mark: %d rows marked (%v)", id, n, err)
	}
	return nil
}

// readCase reads every row of case id from src, in archiveTables' order,
// and returns the digest of those that are not volatile. With dst set it
// also writes each into dst (upserts: a copy made again changes nothing),
// and counts them.
func (a *Archiver) readCase(ctx context.Context, src querier, dst *sql.Tx, id int64) (string, int, error) {
	h := sha256.New()
	n := 0
	for _, t := range archiveTables {
		var err error
		var k int
		if t.name == auditTable {
			k, err = a.copyAudit(ctx, src, dst, id, h)
		} else {
			k, err = a.copyTable(ctx, src, dst, t, id, h)
		}
		if err != nil {
			return "", 0, fmt.Errorf("cases: archive %d: %s: %w", id, t.name, err)
		}
		n += k
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (a *Archiver) copyTable(ctx context.Context, src querier, dst *sql.Tx, t archiveTable, id int64, h hash.Hash) (int, error) {
	rows, err := src.QueryContext(ctx, `SELECT * FROM `+t.name+` WHERE `+t.where+` ORDER BY `+t.order, id)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var ins *sql.Stmt
	if dst != nil {
		if ins, err = dst.PrepareContext(ctx, upsertSQL(t.name, cols)); err != nil {
			return 0, err
		}
		defer ins.Close()
	}
	n := 0
	if !t.volatile {
		digestString(h, t.name)
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if !t.volatile {
			for _, v := range vals {
				digestValue(h, v)
			}
		}
		if ins != nil {
			for i, v := range vals {
				// An empty value (a column whose data is in pieces) reads
				// as a nil slice, which would bind as NULL.
				if b, ok := v.([]byte); ok && b == nil {
					vals[i] = []byte{}
				}
			}
			if _, err := ins.ExecContext(ctx, vals...); err != nil {
				return n, err
			}
			if err := a.step("row"); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, rows.Err()
}

// upsertSQL inserts a row into table, or updates the row with its keys.
func upsertSQL(table string, cols []string) string {
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = excluded." + c
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) +
		`) ON CONFLICT DO UPDATE SET ` + strings.Join(set, ", ")
}

// copyAudit copies the case's audit chain: each event the archive does
// not hold yet is appended to the archive's log, and the archive's head
// extended over it and signed by the team key (extendHead), so that the
// archive verifies on its own. The chain's last hash covers every event
// of it, so it is what the digest takes.
func (a *Archiver) copyAudit(ctx context.Context, src querier, dst *sql.Tx, id int64, h hash.Hash) (int, error) {
	evs, err := auditLog(ctx, src, id)
	if err != nil {
		return 0, err
	}
	digestString(h, auditTable)
	if len(evs) > 0 {
		digestString(h, evs[len(evs)-1].Hash)
	}
	if dst == nil {
		return len(evs), nil
	}
	if _, err := verifyChain(evs); err != nil {
		return 0, err
	}
	for _, e := range evs {
		r, err := dst.ExecContext(ctx, `INSERT INTO case_audit (case_id, seq, at, actor, action, detail, source, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			e.CaseID, e.Seq, store.Millis(e.At), e.Actor, e.Action, e.Detail, e.Source, e.PrevHash, e.Hash)
		if err != nil {
			return 0, err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			continue
		}
		rowID, err := r.LastInsertId()
		if err != nil {
			return 0, err
		}
		if err := a.Archive.extendHead(ctx, dst, rowID, e); err != nil {
			return 0, err
		}
		if err := a.step("row"); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

func digestString(h hash.Hash, s string) { digestBytes(h, []byte(s)) }

// digestBytes writes b into h after its length.
func digestBytes(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// digestValue writes one column value into h, its type first, so that
// no two different rows write the same bytes.
func digestValue(h hash.Hash, v any) {
	var b [9]byte
	switch v := v.(type) {
	case nil:
		h.Write([]byte{0})
	case int64:
		b[0] = 1
		binary.BigEndian.PutUint64(b[1:], uint64(v))
		h.Write(b[:])
	case float64:
		b[0] = 2
		binary.BigEndian.PutUint64(b[1:], math.Float64bits(v))
		h.Write(b[:])
	case string:
		h.Write([]byte{3})
		digestString(h, v)
	case []byte:
		h.Write([]byte{4})
		digestBytes(h, v)
	default:
		h.Write([]byte{5})
		digestString(h, fmt.Sprintf("%T %v", v, v))
	}
}

// The number and the id of a new case count the archived cases too: an
// archived case's reference and id are never given again (the audit log
// keeps its chain under that id). Each table's highest number is its own
// max(), which SQLite reads off the end of the index on (prefix, year,
// seq); a max() over the union of both read every case of the year, for
// every new case.
const (
	// caseSeq is the number of a new case of prefix ?1 in year ?2, read
	// with the rota's last lead (openCaseReads).
	caseSeq = `max(coalesce((SELECT max(seq) FROM cases WHERE prefix = ?1 AND year = ?2), 0),
		coalesce((SELECT max(seq) FROM archived_case WHERE prefix = ?1 AND year = ?2), 0)) + 1`
	nextCaseID = `(SELECT MAX(id) + 1 FROM (SELECT COALESCE(MAX(id), 0) AS id FROM cases UNION ALL SELECT COALESCE(MAX(id), 0) FROM archived_case))`
)
