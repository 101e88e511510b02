package store

// schemaCases holds the tables owned by package cases.
//
// Case content (report text, follow-ups, comments, notes, replies, the impact
// draft, the reporter's disclosure terms, attachments) is stored only as
// ciphertext to the team key (BLOB columns ending in _enc). Metadata
// (reference, state, class, CVSS, CVE, versions, fingerprints, times) is in
// clear so that the gateway can plan without decrypting.
const schemaCases = `
CREATE TABLE cases (
	id             INTEGER PRIMARY KEY,
	ref            TEXT    NOT NULL UNIQUE,
	year           INTEGER NOT NULL,
	seq            INTEGER NOT NULL,
	state          TEXT    NOT NULL,
	class          TEXT    NOT NULL DEFAULT '',
	cvss_vector    TEXT    NOT NULL DEFAULT '',
	cvss_score     REAL    NOT NULL DEFAULT 0,
	severity       TEXT    NOT NULL DEFAULT '',
	cve            TEXT    NOT NULL DEFAULT '',
	advisory       TEXT    NOT NULL DEFAULT '',
	affected       TEXT    NOT NULL DEFAULT '',
	fixed          TEXT    NOT NULL DEFAULT '',
	credit         TEXT    NOT NULL DEFAULT '',
	credit_consent TEXT    NOT NULL DEFAULT '',
	impact_enc     BLOB,
	terms_enc      BLOB,
	reporter_addr  TEXT    NOT NULL DEFAULT '',
	reporter_key   TEXT    NOT NULL DEFAULT '',
	lead           TEXT    NOT NULL DEFAULT '',
	rota_lead      TEXT    NOT NULL DEFAULT '',
	lead_offer     TEXT    NOT NULL DEFAULT '',
	lead_released  INTEGER NOT NULL DEFAULT 0,
	policy         TEXT    NOT NULL DEFAULT '',
	close_reason   TEXT    NOT NULL DEFAULT '',
	received       INTEGER NOT NULL,
	created        INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	disclose_at    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (year, seq)
) STRICT;
CREATE INDEX cases_state ON cases (state);

CREATE TABLE case_team (
	case_id     INTEGER NOT NULL REFERENCES cases (id),
	fingerprint TEXT    NOT NULL,
	added       INTEGER NOT NULL,
	PRIMARY KEY (case_id, fingerprint)
) STRICT;

CREATE TABLE case_messages (
	id         INTEGER PRIMARY KEY,
	case_id    INTEGER NOT NULL REFERENCES cases (id),
	kind       TEXT    NOT NULL,
	author     TEXT    NOT NULL DEFAULT '',
	message_id TEXT    NOT NULL DEFAULT '',
	encrypted  INTEGER NOT NULL DEFAULT 0,
	received   INTEGER NOT NULL,
	body_enc   BLOB    NOT NULL
) STRICT;
CREATE INDEX case_messages_case ON case_messages (case_id, id);

CREATE TABLE case_attachments (
	id           INTEGER PRIMARY KEY,
	message_id   INTEGER NOT NULL REFERENCES case_messages (id),
	content_type TEXT    NOT NULL DEFAULT '',
	size         INTEGER NOT NULL,
	name_enc     BLOB    NOT NULL,
	data_enc     BLOB    NOT NULL
) STRICT;
CREATE INDEX case_attachments_message ON case_attachments (message_id);

CREATE TABLE case_audit (
	id         INTEGER PRIMARY KEY,
	case_id    INTEGER NOT NULL,
	seq        INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	actor      TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	detail     TEXT    NOT NULL DEFAULT '',
	source     TEXT    NOT NULL DEFAULT '',
	prev_hash  TEXT    NOT NULL,
	hash       TEXT    NOT NULL,
	UNIQUE (case_id, seq)
) STRICT;
CREATE TRIGGER case_audit_no_update BEFORE UPDATE ON case_audit
BEGIN SELECT RAISE(ABORT, 'case_audit is append-only'); END;
CREATE TRIGGER case_audit_no_delete BEFORE DELETE ON case_audit
BEGIN SELECT RAISE(ABORT, 'case_audit is append-only'); END;

CREATE TABLE case_signatures (
	sig_id      TEXT    PRIMARY KEY,
	fingerprint TEXT    NOT NULL,
	created     INTEGER NOT NULL,
	seen        INTEGER NOT NULL,
	message_id  TEXT    NOT NULL DEFAULT ''
) STRICT;
`

// schemaCaseDetails (version 8): what the team writes about a case for the
// notices and the advisory (title, component, mitigation, patches,
// references), as one value encrypted at rest like the impact.
const schemaCaseDetails = `
ALTER TABLE cases ADD COLUMN details_enc BLOB;
`
