package store

// schemaInbound holds the tables owned by package intake.
//
// inbound_mailbox remembers, per IMAP mailbox, the UIDVALIDITY and the last
// UID whose message is durably stored, so a restart neither skips nor
// repeats. inbound holds every message as received with its processing
// state (its bytes, encrypted at rest to the team key, are in inbound_raw
// since version 5); the unique keys make storing idempotent by (mailbox,
// uidvalidity, uid) and by content hash.
// inbound_cipher remembers the hash of every encrypted payload received, so a
// re-sent old ciphertext is recognised. inbound_answer records the polite
// answers sent per sender, so nobody is answered in a loop.
const schemaInbound = `
CREATE TABLE inbound_mailbox (
	mailbox     TEXT PRIMARY KEY,
	uidvalidity INTEGER NOT NULL,
	last_uid    INTEGER NOT NULL
) STRICT;

CREATE TABLE inbound (
	id          INTEGER PRIMARY KEY,
	mailbox     TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid         INTEGER NOT NULL,
	sha256      BLOB NOT NULL UNIQUE,
	message_id  TEXT NOT NULL,
	sender      TEXT NOT NULL,
	subject_len INTEGER NOT NULL DEFAULT 0,
	size        INTEGER NOT NULL,
	raw         BLOB NOT NULL,
	received    INTEGER NOT NULL,
	state       TEXT NOT NULL DEFAULT 'stored'
	            CHECK (state IN ('stored', 'processed', 'quarantined', 'released')),
	class       TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	case_id     INTEGER,
	processed   INTEGER NOT NULL DEFAULT 0,
	moved       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (mailbox, uidvalidity, uid)
) STRICT;
CREATE INDEX inbound_state ON inbound (state, moved);
CREATE INDEX inbound_sender ON inbound (sender, received);
CREATE INDEX inbound_message_id ON inbound (message_id);

CREATE TABLE inbound_cipher (
	sha256     BLOB PRIMARY KEY,
	inbound_id INTEGER NOT NULL REFERENCES inbound (id),
	sender     TEXT NOT NULL
) STRICT;

CREATE TABLE inbound_answer (
	sender TEXT NOT NULL,
	kind   TEXT NOT NULL,
	at     INTEGER NOT NULL,
	PRIMARY KEY (sender, kind)
) STRICT;
`

// schemaInboundRaw (version 5): the stored bytes of an inbound message move
// to a table of their own, written once, as outbox_message does for the
// outbox: SQLite rewrites a whole row on every update, so each change of a
// message's state (processed, moved) rewrote its bytes too, and reading the
// state walked past them.
const schemaInboundRaw = `
CREATE TABLE inbound_raw (
	inbound_id INTEGER PRIMARY KEY REFERENCES inbound (id),
	raw        BLOB NOT NULL
) STRICT;
INSERT INTO inbound_raw (inbound_id, raw) SELECT id, raw FROM inbound;
ALTER TABLE inbound DROP COLUMN raw;
`
