package store

// schemaSecurity (version 10): what the defences against an active attacker
// remember.
//
// inbound_cipher, from version 1, now also holds the replay identities of
// every message opened: a hash of each session key and of each decrypted
// plaintext, which no re-encoding changes (its old rows, hashes of armored
// text, stay and are harmless). inbound_replay_alert records which
// (original message, sender) pairs the team was alerted of, so a flood of
// copies alerts once. case_untrusted_line holds a hash of every line that
// starts with "/" in text the gateway copied to the team as untrusted (a
// report, a follow-up, a distributor's reply): such a line never runs as a
// command in that case. case_refusal_answer limits the refusals a member
// is sent for mail that carries their address but not their signature.
// case_signatures gains the inbound message that consumed the signature
// (the same stored message handled again after a crash is not a replay),
// what became of it, and whether a later copy was answered.
const schemaSecurity = `
CREATE TABLE inbound_replay_alert (
	first_inbound INTEGER NOT NULL,
	sender        TEXT    NOT NULL,
	PRIMARY KEY (first_inbound, sender)
) STRICT, WITHOUT ROWID;

CREATE TABLE case_untrusted_line (
	case_id   INTEGER NOT NULL REFERENCES cases (id),
	line_hash BLOB    NOT NULL,
	PRIMARY KEY (case_id, line_hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX case_untrusted_line_hash ON case_untrusted_line (line_hash);

CREATE TABLE case_refusal_answer (
	address TEXT    PRIMARY KEY,
	at      INTEGER NOT NULL
) STRICT;

ALTER TABLE case_signatures ADD COLUMN inbound_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_signatures ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE case_signatures ADD COLUMN replay_answered INTEGER NOT NULL DEFAULT 0;
`
