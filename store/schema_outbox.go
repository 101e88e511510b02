package store

// schemaOutbox holds the tables owned by package distlist: the durable
// per-recipient outbox and its delivery history.
const schemaOutbox = `
-- outbox: one row per (notice, recipient). outbox_message holds its final
-- bytes, so a resend is byte-identical.
CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY,
	notice_id     TEXT NOT NULL,
	kind          TEXT NOT NULL,
	case_id       INTEGER NOT NULL DEFAULT 0,
	recipient     TEXT NOT NULL,            -- lower-case address
	fingerprint   TEXT NOT NULL DEFAULT '', -- recipient key when encrypted
	enc_key_id    INTEGER NOT NULL DEFAULT 0, -- key ID the row was sealed to
	encrypt       INTEGER NOT NULL,
	valid_through INTEGER NOT NULL DEFAULT 0,
	message_id    TEXT NOT NULL UNIQUE,     -- without <>
	token         TEXT NOT NULL UNIQUE,     -- VERP token of the envelope sender
	env_from      TEXT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced')),
	attempts      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	next_attempt  INTEGER NOT NULL,
	last_attempt  INTEGER NOT NULL DEFAULT 0,
	last_code     INTEGER NOT NULL DEFAULT 0,
	last_reply    TEXT NOT NULL DEFAULT '',
	finished      INTEGER NOT NULL DEFAULT 0,
	UNIQUE (notice_id, recipient)
) STRICT;
CREATE INDEX outbox_due ON outbox(state, next_attempt);
CREATE INDEX outbox_case ON outbox(case_id);

-- outbox_message: the final message bytes of a row, written once (kept
-- apart so that state updates do not rewrite them).
CREATE TABLE outbox_message (
	outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id),
	raw       BLOB NOT NULL
) STRICT;

-- outbox_attempt: every delivery attempt, recorded before dialing and
-- completed afterwards; also DSNs received for the row.
CREATE TABLE outbox_attempt (
	outbox_id INTEGER NOT NULL REFERENCES outbox(id),
	n         INTEGER NOT NULL,
	started   INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0,
	outcome   TEXT NOT NULL,               -- sending, sent, deferred, failed, bounced, dsn-delayed, ...
	code      INTEGER NOT NULL DEFAULT 0,
	reply     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (outbox_id, n)
) STRICT;

-- outbox_secret: the per-install HMAC secret behind Message-IDs and VERP tokens.
CREATE TABLE outbox_secret (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	secret BLOB NOT NULL
) STRICT;
`

// schemaOutboxClaim (version 3): the rows waiting to be sent, in the order
// the outbox claims them, so that a claim reads its first rows off the index
// instead of sorting every waiting row (thousands during a burst).
const schemaOutboxClaim = `
CREATE INDEX outbox_claim ON outbox(next_attempt, id) WHERE state IN ('queued', 'deferred');
`

// schemaOutboxDropDue (version 4): outbox_claim serves every query that
// outbox_due did (the claim, and the time of the next waiting row); a state
// change of a row no longer updates a second index.
const schemaOutboxDropDue = `
DROP INDEX outbox_due;
`

// schemaOutboxEvent (version 6): delivery problems the team must hear of
// (a failure, a long delay, a key refused before sending, a bounce), written
// in the transaction that records them, so that an alert survives a crash;
// told is when the team was told (0: not yet).
const schemaOutboxEvent = `
CREATE TABLE outbox_event (
	id        INTEGER PRIMARY KEY,
	kind      TEXT    NOT NULL,
	outbox_id INTEGER NOT NULL,
	notice_id TEXT    NOT NULL,
	case_id   INTEGER NOT NULL,
	recipient TEXT    NOT NULL,
	reason    TEXT    NOT NULL,
	created   INTEGER NOT NULL,
	told      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_event_untold ON outbox_event(id) WHERE told = 0;
`
