package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/secgate/secgate/store"
)

// ErrAuditBroken is returned by VerifyAudit when the chain does not hold.
var ErrAuditBroken = errors.New("audit chain broken")

// GatewayLog is the case ID of the gateway-wide audit chain, which records
// refusals that concern no known case.
const GatewayLog int64 = 0

// Actor values for events not caused by a member.
const (
	ActorGateway = "gateway"
	// ActorSender prefixes the address of someone who wrote on a case's
	// thread and is neither a member nor its reporter.
	ActorSender = "sender:"
)

// AuditEvent is one entry of a case's append-only audit log.
type AuditEvent struct {
	CaseID   int64
	Seq      int64 // 1, 2, ... per case
	At       time.Time
	Actor    string // key fingerprint of the member, "reporter:ADDRESS", "sender:ADDRESS" (a follow-up from someone else) or "gateway"
	Action   string
	Detail   string
	Source   string // Message-ID of the mail that caused it
	PrevHash string
	Hash     string
}

// genesis is the PrevHash of the first event of every chain.
var genesis = hex.EncodeToString(make([]byte, sha256.Size))

// hashEvent computes an event's hash from its fields and the previous hash.
// The fields are encoded as json.Marshal encodes
// []any{CaseID, Seq, millis, Actor, Action, Detail, Source, PrevHash}
// (appendEventJSON).
func hashEvent(e AuditEvent) string {
	var buf [256]byte
	h := sha256.Sum256(appendEventJSON(buf[:0], e, store.Millis(e.At)))
	return hex.EncodeToString(h[:])
}

// Audit appends an event to the audit log of caseID (GatewayLog for events
// that concern no case) inside tx. Detail must not carry report content.
func (w *Workflow) Audit(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, sourceMsgID string) error {
	var seq int64
	prev := genesis
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM case_audit WHERE case_id = ? ORDER BY seq DESC LIMIT 1`, caseID).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("cases: audit %d: %w", caseID, err)
	}
	return w.appendAudit(ctx, tx, AuditEvent{CaseID: caseID, Seq: seq + 1, Actor: actor, Action: action, Detail: detail, Source: sourceMsgID, PrevHash: prev})
}

// auditFirst writes the first event of a case inserted in tx: its chain
// starts at the genesis hash, with nothing to look up.
func (w *Workflow) auditFirst(ctx context.Context, tx *sql.Tx, caseID int64, actor, action, detail, sourceMsgID string) error {
	return w.appendAudit(ctx, tx, AuditEvent{CaseID: caseID, Seq: 1, Actor: actor, Action: action, Detail: detail, Source: sourceMsgID, PrevHash: genesis})
}

// appendAudit stamps, hashes and writes e after its PrevHash and Seq, and
// signs the audit head after it (extendHead).
func (w *Workflow) appendAudit(ctx context.Context, tx *sql.Tx, e AuditEvent) error {
	e.At = w.now()
	e.Hash = hashEvent(e)
	id, prev, ok, err := insertAudit(ctx, tx, e)
	if err != nil {
		return fmt.Errorf("cases: audit %d: %w", e.CaseID, err)
	}
	return w.extendHeadFrom(ctx, tx, id, e, prev, ok)
}

// AuditLog returns the audit events of caseID in order.
func (w *Workflow) AuditLog(ctx context.Context, caseID int64) ([]AuditEvent, error) {
	return auditLog(ctx, w.db.Reader(), caseID)
}

func auditLog(ctx context.Context, q querier, caseID int64) ([]AuditEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, action, detail, source, prev_hash, hash
		FROM case_audit WHERE case_id = ? ORDER BY seq`, caseID)
	if err != nil {
		return nil, fmt.Errorf("cases: audit log %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		e := AuditEvent{CaseID: caseID}
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Detail, &e.Source, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("cases: audit log %d: %w", caseID, err)
		}
		e.At = store.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyAudit checks the hash chain of caseID's audit log: each event's hash
// covers its fields and the previous event's hash, and sequence numbers have
// no gaps. A case without events verifies. The chain alone does not show
// that it was not rewritten: VerifyAuditLog also checks it against the
// heads the team key signed.
func (w *Workflow) VerifyAudit(ctx context.Context, caseID int64) error {
	evs, err := w.AuditLog(ctx, caseID)
	if err != nil {
		return err
	}
	_, err = verifyChain(evs)
	return err
}

func verifyChain(evs []AuditEvent) (int, error) {
	prev := genesis
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			return i, fmt.Errorf("%w: case %d: event %d has sequence number %d", ErrAuditBroken, e.CaseID, i+1, e.Seq)
		}
		if e.PrevHash != prev {
			return i, fmt.Errorf("%w: case %d: event %d does not follow event %d", ErrAuditBroken, e.CaseID, e.Seq, e.Seq-1)
		}
		if hashEvent(e) != e.Hash {
			return i, fmt.Errorf("%w: case %d: event %d was altered", ErrAuditBroken, e.CaseID, e.Seq)
		}
		prev = e.Hash
	}
	return len(evs), nil
}
