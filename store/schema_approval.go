package store

// schemaApproval (version 20) holds the actions that wait for a second
// member under the two-person rule ([cases] approvals = 2, package cases):
// the command line (encrypted at rest: a reason may say what the case
// is), who asked, until when a second member's signed /approve REF
// counts, and how it ended (approved, expired), by whom.
const schemaApproval = `
CREATE TABLE case_approval (
	ref        TEXT    PRIMARY KEY,             -- AP-7K3QX2, given in the answer
	case_id    INTEGER NOT NULL,                -- 0: outside a case (/list approve)
	author     TEXT    NOT NULL,                -- fingerprint of the member who asked
	line_enc   BLOB    NOT NULL,                -- the command line, encrypted at rest
	what       TEXT    NOT NULL,                -- the command's name and kind of step, in clear
	message_id TEXT    NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'expired')),
	approver   TEXT    NOT NULL DEFAULT '',
	decided    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX case_approval_pending ON case_approval (state, expires);
`
