package cases

import (
	"context"
	"database/sql"

	"github.com/secgate/secgate/store"
)

// insertAuditQuery writes an audit event and returns its row id with the
// newest stored head, read in the same statement: the head the event's
// signed head extends (extendHeadFrom), one statement rather than the
// insert and a read of the head after it. The insert writes no head, so
// the head it returns is the one a read after it would find.
const insertAuditQuery = `INSERT INTO case_audit (case_id, seq, at, actor, action, detail, source, prev_hash, hash)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING rowid,
		(SELECT events FROM audit_head ORDER BY events DESC LIMIT 1),
		(SELECT hash FROM audit_head ORDER BY events DESC LIMIT 1),
		(SELECT at FROM audit_head ORDER BY events DESC LIMIT 1),
		(SELECT signature FROM audit_head ORDER BY events DESC LIMIT 1)`

// insertAudit writes e in tx and returns its row id and the newest stored
// head (ok false: none).
func insertAudit(ctx context.Context, tx *sql.Tx, e AuditEvent) (id int64, head Head, ok bool, err error) {
	var events, at sql.NullInt64
	var hash, sig sql.NullString
	err = tx.QueryRowContext(ctx, insertAuditQuery, e.CaseID, e.Seq, store.Millis(e.At), e.Actor, e.Action, e.Detail, e.Source, e.PrevHash, e.Hash).
		Scan(&id, &events, &hash, &at, &sig)
	if err != nil {
		return 0, Head{}, false, err
	}
	if !events.Valid {
		return id, Head{}, false, nil
	}
	return id, Head{Events: events.Int64, Hash: hash.String, At: store.Time(at.Int64), Signature: sig.String}, true, nil
}
