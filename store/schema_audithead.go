package store

// schemaAuditHead: the signed heads of the audit log. A head covers the
// first events events of case_audit in the order written (every case's
// chain and the gateway log): hash folds their hashes, and signature is
// the team key's armored detached signature over the head's text (see
// cases.Head). The gateway writes one at every event, in the same
// transaction; rows are never changed.
const schemaAuditHead = `
CREATE TABLE audit_head (
	events    INTEGER PRIMARY KEY,
	hash      TEXT    NOT NULL,
	at        INTEGER NOT NULL,
	signature TEXT    NOT NULL
) STRICT;
CREATE TRIGGER audit_head_no_update BEFORE UPDATE ON audit_head
BEGIN SELECT RAISE(ABORT, 'audit_head is append-only'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'audit_head is append-only'); END;
`
