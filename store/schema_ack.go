package store

// schemaAck holds the acknowledgements of notices (package schedule; intake
// hands it the distributors' replies).
//
// What was sent and delivered is the outbox's (one row per notice and
// recipient: created is when it was queued, finished with state 'sent' the
// SMTP 250); these tables add only what the outbox does not know.
//
// ack_notice is a notice that asks its recipients to acknowledge it (the
// embargo and pre-release notices): code is the random acknowledgement
// code its text carries, which a recipient's signed reply must hold to
// count for it.
//
// ack_reply is an acknowledgement that counted: the reply signed by the
// key the directory holds for the recipient, in the thread of their copy
// of the notice, whose signed text holds the notice's code. signature_id
// (crypto.Signature.ID) is unique: the same signed text never counts twice.
//
// ack_nudge is a reminder sent to a silent recipient (stage 'reminder') or
// the fix lead told who is still silent (stage 'escalation', recipient
// ”), each written in the transaction that queues its mail: sent once.
const schemaAck = `
CREATE TABLE ack_notice (
	notice_id  TEXT    PRIMARY KEY,      -- the outbox notice_id of the notice
	case_id    INTEGER NOT NULL,
	kind       TEXT    NOT NULL,         -- embargo-notice, prerelease-notice
	generation INTEGER NOT NULL,         -- the plan generation it was sent under
	code       TEXT    NOT NULL UNIQUE,  -- ACK-XXXXXXXXXX, in the notice's text
	created    INTEGER NOT NULL
) STRICT;
CREATE INDEX ack_notice_case ON ack_notice(case_id);

CREATE TABLE ack_reply (
	notice_id    TEXT    NOT NULL,
	recipient    TEXT    NOT NULL,        -- lower-case address, as in the outbox
	signer       TEXT    NOT NULL,        -- fingerprint of the key that signed it (the one on file)
	signature_id TEXT    NOT NULL UNIQUE, -- the replay key of that signature
	inbound_id   INTEGER NOT NULL,        -- the reply as stored by intake
	message_id   TEXT    NOT NULL,        -- its Message-ID
	at           INTEGER NOT NULL,        -- when it was received
	PRIMARY KEY (notice_id, recipient)
) STRICT;

CREATE TABLE ack_nudge (
	notice_id TEXT    NOT NULL,
	recipient TEXT    NOT NULL,          -- '' for the escalation to the lead
	stage     TEXT    NOT NULL CHECK (stage IN ('reminder', 'escalation')),
	due       INTEGER NOT NULL,          -- when it was due
	sent      INTEGER NOT NULL,          -- when it was queued
	PRIMARY KEY (notice_id, recipient, stage)
) STRICT;
`
