package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/secgate/secgate/crypto"
	"github.com/secgate/secgate/store"
)

// VerifyCaseAudit checks one case's audit chain against the signed log
// without reading the whole log, for `secgate case show`: the case's
// chain holds (each event's hash, each link), and its newest event is the
// one the team key signed at its place in the log: the heads stored at
// that event and at the one before are signed by team, and the latter
// folds to the former with that event's hash. Since each event's hash
// covers the one before it, no event of the case can have been changed,
// removed or inserted since. The same holds for the log's newest event
// and the newest head, and the log's rows must number 1 to n without a
// gap. What else the log holds (other chains, the gateway log, each
// fold) is `secgate audit verify`'s to check, and the weekly report's.
//
// When those heads are missing or do not match (a log from before heads
// were signed at every event, or one that was changed), it checks the
// whole log (VerifyAuditLog), whose answer says exactly what is wrong.
func (w *Workflow) VerifyCaseAudit(ctx context.Context, team *crypto.Key, caseID int64) (*AuditCheck, error) {
	if team == nil {
		return nil, errors.New("cases: verify audit: no team key")
	}
	tx, err := w.db.Reader().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cases: verify audit: %w", err)
	}
	defer tx.Rollback()
	c, ok, err := caseAuditCheck(ctx, tx, team, caseID)
	if err != nil || ok {
		return c, err
	}
	l, err := readLog(ctx, tx)
	if err != nil {
		return nil, err
	}
	return l.check(team, nil), nil
}

// caseAuditCheck is VerifyCaseAudit's short way; ok is false when it
// cannot vouch for the case and the whole log must be read. It vouches
// only for a log whose rows number 1 to n without a gap (row ids are the
// events' places), whose newest head covers all n and holds the newest
// event, and in which the case's newest event is held by the heads at its
// place: an event removed, inserted or renumbered breaks one of these.
func caseAuditCheck(ctx context.Context, q querier, team *crypto.Key, caseID int64) (*AuditCheck, bool, error) {
	var last, count int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(id), 0), count(*) FROM case_audit`).Scan(&last, &count); err != nil {
		return nil, false, fmt.Errorf("cases: verify audit: %w", err)
	}
	newest, ok, err := newestHead(ctx, q)
	if err != nil || !ok || newest.Events != last || count != last {
		return nil, false, err
	}
	var tail string
	if err := q.QueryRowContext(ctx, `SELECT hash FROM case_audit WHERE id = ?`, last).Scan(&tail); err != nil {
		return nil, false, fmt.Errorf("cases: verify audit: %w", err)
	}
	evs, tip, err := caseEvents(ctx, q, caseID)
	if err != nil {
		return nil, false, err
	}
	if _, err := verifyChain(evs); err != nil || len(evs) == 0 {
		// A broken chain is told by the whole log's check, with its
		// place; so is a case without events.
		return nil, false, nil
	}
	for _, at := range []struct {
		n    int64
		hash string
	}{{last, tail}, {tip, evs[len(evs)-1].Hash}} {
		held, err := heldAt(ctx, q, team, at.n, at.hash)
		if err != nil || !held {
			return nil, false, err
		}
	}
	c := &AuditCheck{Events: last, Head: &HeadCheck{Head: newest}, Chains: []ChainCheck{{CaseID: caseID, Events: len(evs)}}, CaseOnly: true}
	return c, true, nil
}

// heldAt reports whether the event at place n of the log, whose hash is
// hash, is the one the team key signed there: the heads stored at n and
// at n-1 (the genesis for the first) are signed by team, and the one
// folds to the other with hash.
func heldAt(ctx context.Context, q querier, team *crypto.Key, n int64, hash string) (bool, error) {
	at, err := headsAt(ctx, q, n-1, n)
	if err != nil {
		return false, err
	}
	prev, cur := Head{Hash: genesis}, at[n]
	if n > 1 {
		prev = at[n-1]
		if prev.Signature == "" || prev.Verify(team) != nil {
			return false, nil
		}
	}
	return cur.Signature != "" && cur.Verify(team) == nil && foldHead(prev.Hash, hash) == cur.Hash, nil
}

// caseEvents reads caseID's events in order and the row id of the last,
// its place in the log.
func caseEvents(ctx context.Context, q querier, caseID int64) ([]AuditEvent, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, seq, at, actor, action, detail, source, prev_hash, hash
		FROM case_audit WHERE case_id = ? ORDER BY seq`, caseID)
	if err != nil {
		return nil, 0, fmt.Errorf("cases: audit log %d: %w", caseID, err)
	}
	defer rows.Close()
	var (
		out []AuditEvent
		id  int64
	)
	for rows.Next() {
		e := AuditEvent{CaseID: caseID}
		var at int64
		if err := rows.Scan(&id, &e.Seq, &at, &e.Actor, &e.Action, &e.Detail, &e.Source, &e.PrevHash, &e.Hash); err != nil {
			return nil, 0, fmt.Errorf("cases: audit log %d: %w", caseID, err)
		}
		e.At = store.Time(at)
		out = append(out, e)
	}
	return out, id, rows.Err()
}

// headsAt reads the stored heads covering the given numbers of events,
// with their signatures.
func headsAt(ctx context.Context, q querier, events ...int64) (map[int64]Head, error) {
	out := map[int64]Head{}
	for _, n := range events {
		var h Head
		var at int64
		err := q.QueryRowContext(ctx, `SELECT events, hash, at, signature FROM audit_head WHERE events = ?`, n).Scan(&h.Events, &h.Hash, &at, &h.Signature)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cases: audit head %d: %w", n, err)
		}
		h.At = store.Time(at)
		out[n] = h
	}
	return out, nil
}

// SignCaseTips signs, for a log written without a head at every event
// (the bench's generated years, a database from before signed heads),
// the heads at each case's newest event and the one before it, so that
// VerifyCaseAudit can vouch for a case without reading the whole log. As
// SignAuditHead, it signs nothing unless the whole log verifies.
func (w *Workflow) SignCaseTips(ctx context.Context) (int, error) {
	if !w.heads.canSign() {
		return 0, errors.New("cases: sign case tips: the private team key is not loaded")
	}
	signed := 0
	err := w.db.Tx(ctx, func(tx *sql.Tx) error {
		l, err := readLog(ctx, tx)
		if err != nil {
			return err
		}
		c := l.check(w.heads.key, nil)
		for _, ch := range c.Chains {
			if ch.Err != nil {
				return fmt.Errorf("cases: sign case tips: the log does not verify, nothing signed: %w", ch.Err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT max(id) FROM case_audit GROUP BY case_id`)
		if err != nil {
			return fmt.Errorf("cases: sign case tips: %w", err)
		}
		var at []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("cases: sign case tips: %w", err)
			}
			at = append(at, id-1, id)
		}
		rows.Close()
		fold := make([]string, len(l.events)+1)
		fold[0] = genesis
		for i, e := range l.events {
			fold[i+1] = foldHead(fold[i], e.Hash)
		}
		have := map[int64]bool{}
		for _, h := range l.heads {
			have[h.Events] = true
		}
		now := w.now()
		for _, n := range at {
			if n < 1 || n >= int64(len(fold)) || have[n] {
				continue
			}
			// Not w.heads.sign: these heads are older than the newest,
			// which the signer keeps for the next event.
			h := Head{Events: n, Hash: fold[n], At: now}
			if h.Signature, err = w.heads.key.SignDetached([]byte(h.Text()), now); err != nil {
				return fmt.Errorf("cases: sign case tips: %w", err)
			}
			if err := insertHead(ctx, tx, h); err != nil {
				return err
			}
			have[n] = true
			signed++
		}
		return nil
	})
	return signed, err
}
