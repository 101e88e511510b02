package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/secgate/secgate/cases"
	"github.com/secgate/secgate/store"
)

// historySizes is how much history generateHistory makes: years of
// operation of a busy project.
type historySizes struct {
	Cases   int // cases in all, the templates included
	Outbox  int // outbox rows added (sent, some bounced or failed)
	Inbound int // inbound messages added
	Open    int // of the cases added, still open, with plans and pending jobs in the future
	Years   int // the closed cases are spread over the years before now
}

// defaultHistorySizes are the numbers.
func defaultHistorySizes() historySizes {
	return historySizes{Cases: 10000, Outbox: 1000000, Inbound: 100000, Open: 300, Years: 5}
}

// historyStats is what generateHistory made.
type historyStats struct {
	Templates int          `json:"templates"`
	Cases     int          `json:"cases"`
	Outbox    int          `json:"outbox_rows"`
	Inbound   int          `json:"inbound_messages"`
	Audit     int          `json:"audit_events"`
	Seconds   benchSeconds `json:"seconds"`
	Bytes     int64        `json:"database_bytes"`
}

// historyTemplate is one case made through the real code paths, which
// generateHistory copies.
type historyTemplate struct {
	id       int64
	prefix   string
	received int64
	terminal bool
	audit    []cases.AuditEvent
}

// generateHistory multiplies the cases db holds (at least one, made
// through the gateway: their rows, sealed content, messages and mail are
// genuine) into years of history: s.Cases cases in all, most of them
// closed and spread over s.Years years before now, s.Open of the new ones
// open with their plans and jobs due in the future; s.Outbox outbox rows
// (the templates' bytes, sent, some bounced or failed) and s.Inbound
// inbound messages spread over them. Every copy gets fresh ids, dates,
// references, Message-IDs and tokens; each case's audit chain is hashed
// anew (cases.ChainAudit) and, once every row is in, w signs a head over
// the whole log, so that `secgate audit verify` passes. Rows are copied by
// SQL in large transactions.
func generateHistory(ctx context.Context, db *store.DB, w *cases.Workflow, s historySizes, now time.Time) (historyStats, error) {
	start := time.Now()
	st := historyStats{}
	tmpls, err := historyTemplates(ctx, db, w)
	if err != nil {
		return st, err
	}
	if len(tmpls) == 0 {
		return st, errors.New("bench: history: the database holds no case to copy")
	}
	st.Templates = len(tmpls)
	// The copies are made on the one writer connection with a page cache
	// that holds the indexes they grow (SQLite's default is 2 MiB), and
	// are committed without waiting for the disk: the database is the
	// bench's, made again if the machine stops. Both as before after.
	wr := db.Writer()
	if _, err := wr.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		return st, err
	}
	if _, err := wr.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return st, err
	}
	defer wr.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`)
	defer wr.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
	add := max(s.Cases-len(tmpls), 0)
	open := min(s.Open, add)
	var first int64
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM cases`).Scan(&first); err != nil {
			return err
		}
		n, err := historyCases(ctx, tx, tmpls, first, add, open, s.Years, now)
		st.Audit = n
		return err
	})
	if err != nil {
		return st, fmt.Errorf("bench: history: cases: %w", err)
	}
	st.Cases = len(tmpls) + add
	ids := historyCaseRange{first: first, n: int64(add)}
	if add == 0 {
		ids = historyCaseRange{first: tmpls[0].id, n: 1}
	}
	if st.Outbox, err = historyOutbox(ctx, db, ids, s.Outbox); err != nil {
		return st, fmt.Errorf("bench: history: outbox: %w", err)
	}
	if st.Inbound, err = historyInbound(ctx, db, ids, s.Inbound); err != nil {
		return st, fmt.Errorf("bench: history: inbound: %w", err)
	}
	if _, _, err := w.SignAuditHead(ctx); err != nil {
		return st, fmt.Errorf("bench: history: %w", err)
	}
	// The gateway signs a head at every event; the copies were written
	// without: sign those case show checks a case with.
	if _, err := w.SignCaseTips(ctx); err != nil {
		return st, fmt.Errorf("bench: history: %w", err)
	}
	if _, err := db.Writer().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return st, fmt.Errorf("bench: history: checkpoint: %w", err)
	}
	if fi, err := os.Stat(db.Path()); err == nil {
		st.Bytes = fi.Size()
	}
	st.Seconds = benchSecs(time.Since(start))
	return st, nil
}

// historyTemplates reads the cases db holds, with their audit chains.
func historyTemplates(ctx context.Context, db *store.DB, w *cases.Workflow) ([]historyTemplate, error) {
	rows, err := db.Reader().QueryContext(ctx, `SELECT id, prefix, state, received FROM cases ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []historyTemplate
	for rows.Next() {
		var t historyTemplate
		var state string
		if err := rows.Scan(&t.id, &t.prefix, &state, &t.received); err != nil {
			rows.Close()
			return nil, err
		}
		t.terminal = len(cases.Next(cases.State(state))) == 0
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].audit, err = w.AuditLog(ctx, out[i].id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// historyCaseRange is the ids of the cases generated: first, first+1, ...
type historyCaseRange struct{ first, n int64 }

// historyDay is a day in milliseconds.
const historyDay = int64(24 * time.Hour / time.Millisecond)

// historyCases writes add copies of the templates with ids from first in
// tx: cases open (every add/open-th, a template that is open, received in
// the last week so that its jobs stay in the future) and closed (received
// over the years before now), and every row that belongs to a case. It
// returns the number of audit events written.
func historyCases(ctx context.Context, tx *sql.Tx, tmpls []historyTemplate, first int64, add, open, years int, now time.Time) (int, error) {
	var openT, closedT []historyTemplate
	for _, t := range tmpls {
		if t.terminal {
			closedT = append(closedT, t)
		} else {
			openT = append(openT, t)
		}
	}
	if len(openT) == 0 {
		openT = tmpls
	}
	if len(closedT) == 0 {
		closedT = tmpls
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE hist_case (
		id INTEGER PRIMARY KEY, tmpl INTEGER NOT NULL, shift INTEGER NOT NULL, ref TEXT NOT NULL,
		year INTEGER NOT NULL, seq INTEGER NOT NULL, state TEXT, closed INTEGER NOT NULL)`); err != nil {
		return 0, err
	}
	defer tx.ExecContext(context.WithoutCancel(ctx), `DROP TABLE temp.hist_case`)
	// Numbers per prefix and year go on after the highest taken.
	seqs := map[string]int{}
	rows, err := tx.QueryContext(ctx, `SELECT prefix, year, max(seq) FROM cases GROUP BY prefix, year`)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var p string
		var y, s int
		if err := rows.Scan(&p, &y, &s); err != nil {
			rows.Close()
			return 0, err
		}
		seqs[fmt.Sprintf("%s-%d", p, y)] = s
	}
	rows.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO hist_case (id, tmpl, shift, ref, year, seq, state, closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	aud, err := tx.PrepareContext(ctx, `INSERT INTO case_audit (case_id, seq, at, actor, action, detail, source, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer aud.Close()
	nowMs := store.Millis(now)
	span := int64(max(years, 1)) * 365 * historyDay
	stride := add + 1
	if open > 0 {
		stride = max(add/open, 1)
	}
	events := 0
	opened := 0
	for i := range add {
		id := first + int64(i)
		isOpen := opened < open && i%stride == 0
		var t historyTemplate
		var received int64
		state := ""
		if isOpen {
			opened++
			t = openT[i%len(openT)]
			received = nowMs - int64(i%7)*historyDay/2 - historyDay/24
		} else {
			t = closedT[i%len(closedT)]
			// Oldest first, spread evenly over the years, the last one a
			// month before now.
			received = nowMs - 30*historyDay - span + span*int64(i)/int64(max(add, 1))
			if !t.terminal {
				state = string(cases.StateClosed)
			}
		}
		shift := received - t.received
		year := time.UnixMilli(received).UTC().Year()
		key := fmt.Sprintf("%s-%d", t.prefix, year)
		seqs[key]++
		ref := fmt.Sprintf("%s-%d-%04d", t.prefix, year, seqs[key])
		var st any
		if state != "" {
			st = state
		}
		if _, err := ins.ExecContext(ctx, id, t.id, shift, ref, year, seqs[key], st, btoi(!isOpen)); err != nil {
			return 0, err
		}
		evs := make([]cases.AuditEvent, 0, len(t.audit)+1)
		for _, e := range t.audit {
			e.At = e.At.Add(time.Duration(shift) * time.Millisecond)
			evs = append(evs, e)
		}
		if state != "" {
			// A copy of an open template ends closed, as the status
			// command closes it.
			last := store.Time(received)
			if len(evs) > 0 {
				last = evs[len(evs)-1].At
			}
			evs = append(evs, cases.AuditEvent{At: last.Add(21 * 24 * time.Hour), Actor: cases.ActorGateway, Action: "status", Detail: "-> closed"})
		}
		for _, e := range cases.ChainAudit(id, evs) {
			if _, err := aud.ExecContext(ctx, e.CaseID, e.Seq, store.Millis(e.At), e.Actor, e.Action, e.Detail, e.Source, e.PrevHash, e.Hash); err != nil {
				return 0, err
			}
			events++
		}
	}
	for _, q := range historyCaseCopies {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("%s: %w", strings.Fields(q)[2], err)
		}
	}
	return events, nil
}

// historyCaseCopies copy the rows of each template case (hist_case.tmpl)
// to its copy (hist_case.id), times moved by hist_case.shift. A closed
// copy's jobs are done and its plan published; an open copy keeps its
// template's state. Messages get ids after the highest, in the order of
// their templates, so that their attachments follow them.
var historyCaseCopies = []string{
	`INSERT INTO cases (id, ref, prefix, year, seq, state, class, cvss_vector, cvss_score, severity, cve, advisory,
		affected, fixed, credit, credit_consent, impact_enc, terms_enc, reporter_addr, reporter_key, lead, rota_lead,
		lead_offer, lead_released, policy, close_reason, received, created, updated, disclose_at, details_enc)
	SELECT h.id, h.ref, c.prefix, h.year, h.seq, coalesce(h.state, c.state), c.class, c.cvss_vector, c.cvss_score, c.severity,
		CASE WHEN c.cve = '' THEN '' ELSE printf('CVE-%d-%05d', h.year, 10000 + h.id) END, c.advisory,
		c.affected, c.fixed, c.credit, c.credit_consent, c.impact_enc, c.terms_enc,
		replace(c.reporter_addr, '@', printf('+h%d@', h.id)), c.reporter_key, c.lead, c.rota_lead,
		c.lead_offer, c.lead_released, c.policy, CASE WHEN h.state IS NULL THEN c.close_reason ELSE 'fixed' END,
		c.received + h.shift, c.created + h.shift, c.updated + h.shift,
		CASE WHEN c.disclose_at = 0 THEN 0 ELSE c.disclose_at + h.shift END, c.details_enc
	FROM hist_case h JOIN cases c ON c.id = h.tmpl ORDER BY h.id`,
	`INSERT INTO case_team (case_id, fingerprint, added)
	SELECT h.id, t.fingerprint, t.added + h.shift FROM hist_case h JOIN case_team t ON t.case_id = h.tmpl`,
	`INSERT INTO dir_case_extra (case_id, address, name, role, fingerprint, added)
	SELECT h.id, replace(e.address, '@', printf('+h%d@', h.id)), e.name, e.role, e.fingerprint, e.added + h.shift
	FROM hist_case h JOIN dir_case_extra e ON e.case_id = h.tmpl`,
	`INSERT INTO case_untrusted_line (case_id, line_hash)
	SELECT h.id, u.line_hash FROM hist_case h JOIN case_untrusted_line u ON u.case_id = h.tmpl`,
	`CREATE TEMP TABLE hist_msg AS SELECT h.id AS case_id, m.id AS tmpl, h.shift AS shift,
		(SELECT max(id) FROM case_messages) + row_number() OVER (ORDER BY h.id, m.id) AS id
	FROM hist_case h JOIN case_messages m ON m.case_id = h.tmpl`,
	`INSERT INTO case_messages (id, case_id, kind, author, message_id, encrypted, received, body_enc)
	SELECT x.id, x.case_id, m.kind, m.author, CASE WHEN m.message_id = '' THEN '' ELSE printf('hist-%d-%s', x.id, m.message_id) END,
		m.encrypted, m.received + x.shift, m.body_enc
	FROM hist_msg x JOIN case_messages m ON m.id = x.tmpl ORDER BY x.id`,
	`INSERT INTO case_attachments (message_id, content_type, size, name_enc, data_enc)
	SELECT x.id, a.content_type, a.size, a.name_enc, a.data_enc FROM hist_msg x JOIN case_attachments a ON a.message_id = x.tmpl`,
	`DROP TABLE temp.hist_msg`,
	`INSERT INTO schedule_plan (case_id, policy, t0, previous_t0, notice_at, prerelease_at, retro_from, retro_to, forced,
		generation, notified, published, broken, created, updated, no_embargo)
	SELECT h.id, p.policy, p.t0 + h.shift, CASE WHEN p.previous_t0 = 0 THEN 0 ELSE p.previous_t0 + h.shift END,
		p.notice_at + h.shift, CASE WHEN p.prerelease_at = 0 THEN 0 ELSE p.prerelease_at + h.shift END,
		CASE WHEN p.retro_from = 0 THEN 0 ELSE p.retro_from + h.shift END, CASE WHEN p.retro_to = 0 THEN 0 ELSE p.retro_to + h.shift END,
		p.forced, p.generation,
		CASE WHEN h.closed THEN p.notice_at + h.shift WHEN p.notified = 0 THEN 0 ELSE p.notified + h.shift END,
		CASE WHEN h.closed THEN p.t0 + h.shift WHEN p.published = 0 THEN 0 ELSE p.published + h.shift END,
		p.broken, p.created + h.shift, p.updated + h.shift, p.no_embargo
	FROM hist_case h JOIN schedule_plan p ON p.case_id = h.tmpl`,
	`INSERT INTO schedule_job (case_id, kind, generation, due, seq, state, attempts, detail, result, created, finished)
	SELECT h.id, j.kind, j.generation, j.due + h.shift, j.seq,
		CASE WHEN h.closed AND j.state = 'pending' THEN 'done' ELSE j.state END, j.attempts, j.detail, j.result, j.created + h.shift,
		CASE WHEN h.closed AND j.state = 'pending' THEN j.due + h.shift WHEN j.finished = 0 THEN 0 ELSE j.finished + h.shift END
	FROM hist_case h JOIN schedule_job j ON j.case_id = h.tmpl ORDER BY h.id, j.id`,
	`INSERT INTO schedule_audience (case_id, list, source, added_by, added, notified)
	SELECT h.id, a.list, a.source, a.added_by, a.added + h.shift,
		CASE WHEN h.closed THEN a.added + h.shift WHEN a.notified = 0 THEN 0 ELSE a.notified + h.shift END
	FROM hist_case h JOIN schedule_audience a ON a.case_id = h.tmpl`,
	`INSERT INTO schedule_sla (case_id, deadline, stage, due, sent)
	SELECT h.id, s.deadline, s.stage, s.due + h.shift, s.sent + h.shift FROM hist_case h JOIN schedule_sla s ON s.case_id = h.tmpl`,
}

// historyChunk is how many rows one transaction of the bulk copies writes.
const historyChunk = 100000

// historyOutbox adds n outbox rows, spread over the cases ids: the bytes,
// recipients' keys and kinds of the templates' rows (the rows of cases),
// each case's rows in notices of 50 recipients after its acknowledgement
// and team copies, sent (1 in 97 bounced, 1 in 89 failed) within a few
// days of the case's report.
func historyOutbox(ctx context.Context, db *store.DB, ids historyCaseRange, n int) (int, error) {
	return historyBulk(ctx, db, n, `CREATE TEMP TABLE hist_tmpl AS
		SELECT row_number() OVER (ORDER BY o.id) - 1 AS k, o.id AS id FROM outbox o JOIN outbox_message m ON m.outbox_id = o.id
		WHERE length(m.raw) > 0 AND (o.case_id != 0 OR NOT EXISTS (SELECT 1 FROM outbox WHERE case_id != 0))`,
		`SELECT coalesce(max(id), 0) + 1 FROM outbox`, []string{
			`INSERT INTO outbox (id, notice_id, kind, case_id, recipient, fingerprint, enc_key_id, encrypt, valid_through, message_id, token,
				env_from, state, attempts, created, next_attempt, last_attempt, last_code, last_reply, finished, list)
			SELECT @base + s.n, printf('hist-%d-%d', c.id, (s.n / @cases) / 50),
				CASE WHEN s.n / @cases < 3 THEN o.kind ELSE 'embargo-notice' END, c.id,
				printf('d%05d@hist%d.distro.example', (s.n / @cases) % 50, (s.n / @cases) / 50), o.fingerprint, o.enc_key_id, o.encrypt,
				CASE WHEN o.valid_through = 0 THEN 0 ELSE c.received + 30 * 86400000 END,
				printf('hist%d.%s', @base + s.n, o.message_id), printf('%s%d', o.token, @base + s.n), o.env_from,
				CASE WHEN s.n % 97 = 0 THEN 'bounced' WHEN s.n % 89 = 0 THEN 'failed' ELSE 'sent' END, 1,
				c.received + (s.n / @cases) * 60000, c.received + (s.n / @cases) * 60000, c.received + (s.n / @cases) * 60000 + 1000,
				CASE WHEN s.n % 97 = 0 THEN 550 WHEN s.n % 89 = 0 THEN 554 ELSE 250 END,
				CASE WHEN s.n % 97 = 0 THEN '5.1.1 user unknown' WHEN s.n % 89 = 0 THEN '5.7.1 rejected' ELSE '2.0.0 ok' END,
				c.received + (s.n / @cases) * 60000 + 1000, o.list
			FROM hist_seq s JOIN hist_tmpl t ON t.k = s.n % @tmpls JOIN outbox o ON o.id = t.id JOIN cases c ON c.id = @first + s.n % @cases`,
			`INSERT INTO outbox_message (outbox_id, raw)
			SELECT @base + s.n, m.raw FROM hist_seq s JOIN hist_tmpl t ON t.k = s.n % @tmpls JOIN outbox_message m ON m.outbox_id = t.id`,
			`INSERT INTO outbox_attempt (outbox_id, n, started, finished, outcome, code, reply)
			SELECT o.id, 1, o.last_attempt - 1000, o.last_attempt, o.state, o.last_code, o.last_reply
			FROM hist_seq s JOIN outbox o ON o.id = @base + s.n`,
		}, ids)
}

// historyInbound adds n inbound messages, spread over the cases ids: the
// stored bytes (encrypted at rest) of the templates' messages, processed,
// from earlier mailboxes (UIDVALIDITY after the highest), each with a
// Message-ID and content hash of its own.
func historyInbound(ctx context.Context, db *store.DB, ids historyCaseRange, n int) (int, error) {
	return historyBulk(ctx, db, n, `CREATE TEMP TABLE hist_tmpl AS
		SELECT row_number() OVER (ORDER BY i.id) - 1 AS k, i.id AS id FROM inbound i JOIN inbound_raw r ON r.inbound_id = i.id
		WHERE length(r.raw) > 0 AND i.state = 'processed'`,
		`SELECT coalesce(max(id), 0) + 1 FROM inbound`, []string{
			`INSERT INTO inbound (id, mailbox, uidvalidity, uid, sha256, message_id, sender, subject_len, size, received, state, class,
				reason, case_id, processed, moved)
			SELECT @base + s.n, i.mailbox, (SELECT max(uidvalidity) FROM inbound_mailbox) + 1 + s.n / 50000, 1 + s.n % 50000,
				randomblob(32), printf('hist%d.%s', @base + s.n, i.message_id), replace(i.sender, '@', printf('+h%d@', c.id)),
				i.subject_len, i.size, c.received + (s.n / @cases) * 3600000, i.state, i.class, i.reason, c.id,
				c.received + (s.n / @cases) * 3600000 + 50, i.moved
			FROM hist_seq s JOIN hist_tmpl t ON t.k = s.n % @tmpls JOIN inbound i ON i.id = t.id JOIN cases c ON c.id = @first + s.n % @cases`,
			`INSERT INTO inbound_raw (inbound_id, raw)
			SELECT @base + s.n, r.raw FROM hist_seq s JOIN hist_tmpl t ON t.k = s.n % @tmpls JOIN inbound_raw r ON r.inbound_id = t.id`,
			`INSERT INTO inbound_cipher (sha256, inbound_id, sender)
			SELECT randomblob(32), i.id, i.sender FROM hist_seq s JOIN inbound i ON i.id = @base + s.n
			WHERE EXISTS (SELECT 1 FROM hist_tmpl t JOIN inbound_cipher x ON x.inbound_id = t.id WHERE t.k = s.n % @tmpls)`,
		}, ids)
}

// historyBulk writes n rows with the statements qs, historyChunk at a time,
// each chunk in one transaction: tmpl makes the temporary table hist_tmpl
// of the template rows (k from 0), base reads the first id to give, and
// each statement reads the numbers of its chunk from hist_seq (n) and the
// parameters @base (the first id), @tmpls (template rows), @first and
// @cases (the cases spread over).
func historyBulk(ctx context.Context, db *store.DB, n int, tmpl, base string, qs []string, ids historyCaseRange) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	w := db.Writer()
	if _, err := w.ExecContext(ctx, tmpl); err != nil {
		return 0, err
	}
	defer w.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.hist_tmpl`)
	var tmpls, first int64
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM temp.hist_tmpl`).Scan(&tmpls); err != nil {
		return 0, err
	}
	if tmpls == 0 {
		return 0, errors.New("no template rows to copy")
	}
	if err := w.QueryRowContext(ctx, base).Scan(&first); err != nil {
		return 0, err
	}
	for from := 0; from < n; from += historyChunk {
		to := min(from+historyChunk, n)
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE hist_seq (n INTEGER PRIMARY KEY)`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `WITH RECURSIVE r(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM r WHERE n + 1 < ?)
				INSERT INTO hist_seq SELECT n FROM r`, from, to); err != nil {
				return err
			}
			for _, q := range qs {
				if _, err := tx.ExecContext(ctx, q, sql.Named("base", first), sql.Named("tmpls", tmpls),
					sql.Named("first", ids.first), sql.Named("cases", ids.n)); err != nil {
					return fmt.Errorf("%s: %w", strings.Fields(q)[2], err)
				}
			}
			_, err := tx.ExecContext(ctx, `DROP TABLE temp.hist_seq`)
			return err
		})
		if err != nil {
			return from, err
		}
	}
	return n, nil
}
