package distlist

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/secgate/secgate/store"
)

// Row states.
const (
	StateQueued   = "queued"
	StateSending  = "sending"
	StateSent     = "sent"
	StateDeferred = "deferred"
	StateFailed   = "failed"
	StateBounced  = "bounced"
)

// job is a claimed row on its way to SMTP.
type job struct {
	id           int64
	notice       string
	kind         string
	caseID       int64
	list         listRule // the row's list as the directory has it when the row is claimed
	recipient    string
	fingerprint  string
	encKeyID     uint64
	encrypt      bool
	validThrough time.Time
	envFrom      string
	raw          []byte      // the message, when it fits one piece
	blob         *store.Blob // or its pieces, read as a stream while it is sent (stream.go)
	blobHead     []byte      // and their first piece
	armored      []byte      // the recipient's stored key when the row was claimed
	attempt      int
	// suspended: the recipient is a suspended distributor (suspend.go),
	// for the reason given.
	suspended     bool
	suspendReason string
}

// mustEncrypt reports whether j must leave encrypted: its kind, case and
// list decide, and its stored flag may only add to that.
func (j *job) mustEncrypt() bool { return mustEncrypt(j.kind, j.list, j.encrypt) }

// deadlineKinds are the notices wanted only before the disclosure time
// they announce, which their rows keep as valid_through: after it the
// embargo is over and the announcement public, so a late notice would
// tell the distributors nothing in time and leave them thinking they had
// been warned.
var deadlineKinds = map[string]bool{"embargo-notice": true, "prerelease-notice": true}

// missedError is a notice not sent because its disclosure time passed
// before it could be.
type missedError struct{ reason string }

func (e *missedError) Error() string { return e.reason }

// missed returns a *missedError when j is a notice whose disclosure time is
// not after now. Every attempt asks, the first and a resumed or retried
// one alike, and again right before DATA.
func (j *job) missed(now time.Time) error {
	if !deadlineKinds[j.kind] || j.validThrough.IsZero() || now.Before(j.validThrough) {
		return nil
	}
	return &missedError{fmt.Sprintf("missed: not sent, its disclosure time %s had passed at %s (an embargoed notice is never sent after it)",
		j.validThrough.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
}

// outcome is the result of one attempt.
type outcome struct {
	state string // sent, deferred or failed
	code  int
	reply string
	event string // optional Event kind
}

type result struct {
	j   *job
	out outcome
	ev  *Event // recorded with the result, for the team
}

// backoff is the delay after attempt n (1-based): RetryBase doubled for
// each earlier attempt, capped at RetryMax, with ±10% jitter.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.RetryBase
	for i := 1; i < n && d < o.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, o.cfg.RetryMax)
	j := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return d + j
}

// Run delivers rows until ctx is done. At start, rows a crash left in state
// sending are resumed: they are sent again (byte-identical) when their
// recorded next attempt is due. Only one Run may be active at a time.
func (o *Outbox) Run(ctx context.Context) error {
	if !o.running.TryLock() {
		return errors.New("distlist: outbox is already running")
	}
	defer o.running.Unlock()
	if err := o.recover(ctx); err != nil {
		return err
	}
	// Buffered, so that a worker hands its result over and goes on while
	// the committer commits the last batch.
	results := make(chan result, maxCommitBatch)
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		o.committer(results)
	}()
	// The channel holds one claim's worth of rows, so that the next claim
	// commits while the workers send the rows of the last one.
	work := make(chan *job, o.claimLimit())
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		o.workers(ctx, work, results)
	}()
	err := o.dispatch(ctx, work)
	close(work)
	<-workersDone
	close(results)
	<-commitDone
	return err
}

// recover turns rows left in sending by a crash (or a stop) back into
// queued rows, due at once: they were due when they were claimed, and the
// next attempt the claim recorded was for a failure, which this is not.
func (o *Outbox) recover(ctx context.Context) error {
	var n int64
	err := o.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'queued', next_attempt = min(next_attempt, last_attempt) WHERE state = 'sending'`)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `UPDATE outbox_attempt SET outcome = 'interrupted', finished = ?
			WHERE outcome = 'sending'`, store.Millis(o.clock.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("distlist: resume: %w", err)
	}
	if n > 0 {
		o.log.Warn("resuming rows that were being sent when the gateway stopped; they may arrive twice", "rows", n)
	}
	return nil
}

// claimLimit is how many rows one claim takes at most.
func (o *Outbox) claimLimit() int { return o.cfg.SMTP.Parallel * 8 }

// claimBytes bounds the message bytes one claim reads: rows claimed ahead
// wait in memory. A message bigger than a stored piece is read only when
// it is sent.
const claimBytes = 8 << 20

// dispatch claims due rows and hands them to the workers.
func (o *Outbox) dispatch(ctx context.Context, work chan<- *job) error {
	limit := o.claimLimit()
	for {
		jobs, next, err := o.claim(ctx, limit)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.log.Error("outbox: claim rows", "err", err)
			next = o.clock.Now().Add(5 * time.Second)
		}
		for _, j := range jobs {
			select {
			case work <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(jobs) == limit {
			continue
		}
		wait := time.Minute
		if !next.IsZero() {
			wait = min(wait, next.Sub(o.clock.Now()))
		}
		t := o.clock.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-o.kick:
		case <-t.C():
		}
		t.Stop()
	}
}

// claim marks up to limit due rows as sending, recording the attempt and the
// time of the next one, and commits before anything is dialed. It stops
// early once the rows hold claimBytes of messages. It also returns when the
// next row not claimed is due, which is now or earlier when claim stopped
// early.
func (o *Outbox) claim(ctx context.Context, limit int) ([]*job, time.Time, error) {
	now := o.clock.Now()
	var jobs []*job
	var next time.Time
	err := o.db.Tx(ctx, func(tx *sql.Tx) error {
		jobs = jobs[:0]
		size := 0
		// INDEXED BY: read the oldest waiting rows off outbox_claim rather
		// than sort every waiting row (without statistics SQLite may pick
		// another index); the query fails if the index cannot serve it.
		// The recipient's key is read whatever the row's encrypt flag
		// says: the flag does not decide whether the row is encrypted.
		rows, err := tx.QueryContext(ctx, `SELECT o.id, o.notice_id, o.kind, o.case_id, o.list, coalesce(l.kind, ''), coalesce(l.encrypt, 0),
			o.recipient, o.fingerprint, o.enc_key_id, o.encrypt, o.valid_through, o.env_from, m.raw, coalesce(k.armored, ''), o.attempts,
			s.address IS NOT NULL, coalesce(s.reason, '')
			FROM outbox o INDEXED BY outbox_claim JOIN outbox_message m ON m.outbox_id = o.id
			LEFT JOIN dir_suspension s ON s.address = o.recipient
			LEFT JOIN dir_key k ON k.fingerprint = o.fingerprint AND o.fingerprint != ''
			LEFT JOIN dir_list l ON l.name = o.list AND o.list != ''
			WHERE o.state IN ('queued', 'deferred') AND o.next_attempt <= ? ORDER BY o.next_attempt, o.id LIMIT ?`,
			store.Millis(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			j := &job{}
			var enc, listEnc, vt, kid int64
			// The message is copied out of the driver's bytes, which
			// are valid until the next row, into a buffer the worker
			// gives back once it is sent.
			var raw sql.RawBytes
			if err := rows.Scan(&j.id, &j.notice, &j.kind, &j.caseID, &j.list.name, &j.list.kind, &listEnc, &j.recipient,
				&j.fingerprint, &kid, &enc, &vt, &j.envFrom, &raw, &j.armored, &j.attempt, &j.suspended, &j.suspendReason); err != nil {
				rows.Close()
				return err
			}
			if len(raw) > 0 {
				j.raw = append(o.bufs.get(len(raw)), raw...)
			}
			j.encKeyID, j.encrypt, j.validThrough, j.list.encrypt = uint64(kid), enc != 0, store.Time(vt), listEnc != 0
			j.attempt++
			jobs = append(jobs, j)
			if size += len(j.raw); size >= claimBytes {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(jobs) > 0 {
			// One statement for the rows and one for their history,
			// whatever the number of rows: [id, next attempt] each.
			claimed := make([][2]int64, len(jobs))
			for i, j := range jobs {
				claimed[i] = [2]int64{j.id, store.Millis(now.Add(o.backoff(j.attempt)))}
			}
			js, err := json.Marshal(claimed)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'sending', attempts = attempts + 1, last_attempt = ?1,
				next_attempt = c.value ->> 1 FROM json_each(?2) AS c WHERE outbox.id = c.value ->> 0`, store.Millis(now), string(js)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_attempt (outbox_id, n, started, outcome)
				SELECT c.value ->> 0, (SELECT coalesce(max(a.n), 0) + 1 FROM outbox_attempt a WHERE a.outbox_id = c.value ->> 0), ?1, 'sending'
				FROM json_each(?2) AS c`, store.Millis(now), string(js)); err != nil {
				return err
			}
		}
		var nx sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(next_attempt) FROM outbox WHERE state IN ('queued', 'deferred')`).Scan(&nx); err != nil {
			return err
		}
		if nx.Valid {
			next = store.Time(max(nx.Int64, 1))
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("distlist: claim: %w", err)
	}
	return jobs, next, nil
}

// committer records results in batches: one transaction for every result
// that is waiting. Workers do not wait for the commit: a worker hands over
// its result and goes on to its next row, so while one batch commits the
// next gathers. A crash before the commit leaves those rows in sending, to
// be sent again (byte-identical) after the restart, as any row in flight.
//
// A batch gathers for at most commitLinger after its first result: one
// commit (one fsync) for many rows, not one for every row or two.
func (o *Outbox) committer(results <-chan result) {
	ctx := context.Background()
	for r := range results {
		batch := []result{r}
		linger := time.NewTimer(commitLinger)
	gather:
		for len(batch) < maxCommitBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		var err error
		for try := 0; try < 5; try++ {
			if try > 0 {
				time.Sleep(time.Duration(try) * 200 * time.Millisecond)
			}
			if err = o.recordBatch(ctx, batch); err == nil {
				break
			}
			o.log.Error("outbox: record delivery results; retrying", "err", err, "rows", len(batch))
		}
		if err != nil {
			o.log.Error("outbox: delivery results not recorded; these rows will be sent again after a restart", "err", err, "rows", len(batch))
			continue
		}
		o.recorded(batch)
	}
}

// recorded logs the outcomes of a committed batch and tells OnEvent of its
// events.
func (o *Outbox) recorded(batch []result) {
	for _, r := range batch {
		o.logOutcome(r.j, r.out)
		if r.ev != nil && o.onEvent != nil {
			o.onEvent(*r.ev)
		}
	}
}

// commitLinger is how long the committer waits for more results after the
// first of a batch, and maxCommitBatch how many results one commit takes.
// The wait is on the wall clock: it batches disk writes, it schedules
// nothing.
const (
	commitLinger   = 2 * time.Millisecond
	maxCommitBatch = 256
)

// recordBatch records the results of a batch in one transaction.
func (o *Outbox) recordBatch(ctx context.Context, batch []result) error {
	return o.db.Tx(ctx, func(tx *sql.Tx) error { return o.record(ctx, tx, batch) })
}

// record writes the outcomes of attempts to their rows and history, in
// one statement each for the whole batch.
func (o *Outbox) record(ctx context.Context, tx *sql.Tx, batch []result) error {
	now := store.Millis(o.clock.Now())
	type outcomeRow struct {
		ID       int64  `json:"i"`
		State    string `json:"s"`
		Code     int    `json:"c"`
		Reply    string `json:"r"`
		Finished int64  `json:"f"`
	}
	rows := make([]outcomeRow, len(batch))
	for i, r := range batch {
		state, reply := r.out.state, r.out.reply
		if state == StateDeferred && r.j.attempt >= o.cfg.MaxAttempts {
			state = StateFailed
			reply = fmt.Sprintf("gave up after %d attempts: %s", r.j.attempt, reply)
		}
		finished := int64(0)
		if state != StateDeferred {
			finished = now
		}
		rows[i] = outcomeRow{r.j.id, state, r.out.code, reply, finished}
		if ev := o.eventOf(r.j, r.out); ev != nil {
			if err := insertEvent(ctx, tx, ev, now); err != nil {
				return err
			}
			batch[i].ev = ev
		}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = r.value ->> 's', last_code = r.value ->> 'c',
		last_reply = r.value ->> 'r', finished = r.value ->> 'f'
		FROM json_each(?) AS r WHERE outbox.id = r.value ->> 'i' AND outbox.state = 'sending'`, string(js)); err != nil {
		return fmt.Errorf("record %d results: %w", len(batch), err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox_attempt SET finished = ?1, outcome = r.value ->> 's', code = r.value ->> 'c',
		reply = r.value ->> 'r' FROM json_each(?2) AS r
		WHERE outbox_attempt.outbox_id = r.value ->> 'i' AND outbox_attempt.outcome = 'sending'`, now, string(js)); err != nil {
		return fmt.Errorf("record %d results: %w", len(batch), err)
	}
	return nil
}

// workers runs Parallel senders, each with its own reused SMTP connection.
func (o *Outbox) workers(ctx context.Context, work <-chan *job, results chan<- result) {
	done := make(chan struct{})
	for range o.cfg.SMTP.Parallel {
		go func() {
			defer func() { done <- struct{}{} }()
			s := &sender{o: o}
			defer s.close()
			for j := range work {
				if ctx.Err() != nil {
					// Shutting down: a row claimed ahead stays in
					// sending, and the next start sends it.
					continue
				}
				out := s.safeDeliver(ctx, j)
				o.bufs.put(j.raw)           // sent or not, no longer read
				j.raw, j.armored = nil, nil // not needed to record the result
				results <- result{j: j, out: out}
			}
		}()
	}
	for range o.cfg.SMTP.Parallel {
		<-done
	}
}

// safeDeliver is deliver with a panic turned into a failed row: a bug in
// handling one message must not stop the others.
func (s *sender) safeDeliver(ctx context.Context, j *job) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			s.o.log.Error("BUG: panic while delivering", "row", j.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.drop()
			out = outcome{state: StateFailed, reply: fmt.Sprintf("internal error (bug): %v", p), event: EventGuard}
		}
	}()
	return s.deliver(ctx, j)
}

func (o *Outbox) logOutcome(j *job, out outcome) {
	args := []any{"row", j.id, "notice", j.notice, "recipient", j.recipient, "attempt", j.attempt, "code", out.code}
	switch out.state {
	case StateSent:
		o.log.Debug("message sent", args...)
	case StateDeferred:
		o.log.Info("delivery deferred", append(args, "reason", out.reply)...)
	default:
		o.log.Warn("delivery failed", append(args, "reason", out.reply)...)
	}
}

// eventOf returns the event the team must hear of for outcome out of j, or
// nil.
func (o *Outbox) eventOf(j *job, out outcome) *Event {
	ev := out.event
	switch {
	case ev != "":
	case out.state == StateFailed || out.state == StateDeferred && j.attempt >= o.cfg.MaxAttempts:
		ev = EventFailed
	case out.state == StateDeferred && j.attempt == DelayedAfter:
		ev = EventDelayed
	default:
		return nil
	}
	return &Event{Kind: ev, RowID: j.id, NoticeID: j.notice, CaseID: j.caseID, Recipient: j.recipient, Reason: out.reply}
}
