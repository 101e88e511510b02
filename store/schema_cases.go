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

// schemaCasePrefix (version 15): each project names its cases with its own
// prefix ([project] case_prefix, SEC by default), PREFIX-YYYY-NNNN, and
// numbers them per prefix and year: a database whose project changes its
// prefix numbers the new one from 0001 while its older cases keep their
// references. The number was unique per year alone, a table constraint
// SQLite cannot drop, so the table is built anew: every row comes back
// with its id (the other tables refer to it) and the prefix its reference
// carries. The foreign keys are checked when the transaction commits,
// once the rows are back.
const schemaCasePrefix = `
PRAGMA defer_foreign_keys = ON;
CREATE TABLE cases_before_prefix AS SELECT * FROM cases;
DROP TABLE cases;
CREATE TABLE cases (
	id             INTEGER PRIMARY KEY,
	ref            TEXT    NOT NULL UNIQUE,
	prefix         TEXT    NOT NULL,
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
	details_enc    BLOB,
	UNIQUE (prefix, year, seq)
) STRICT;
INSERT INTO cases (id, ref, prefix, year, seq, state, class, cvss_vector, cvss_score, severity, cve, advisory,
	affected, fixed, credit, credit_consent, impact_enc, terms_enc, reporter_addr, reporter_key, lead, rota_lead,
	lead_offer, lead_released, policy, close_reason, received, created, updated, disclose_at, details_enc)
SELECT id, ref, substr(ref, 1, instr(ref, '-') - 1), year, seq, state, class, cvss_vector, cvss_score, severity, cve, advisory,
	affected, fixed, credit, credit_consent, impact_enc, terms_enc, reporter_addr, reporter_key, lead, rota_lead,
	lead_offer, lead_released, policy, close_reason, received, created, updated, disclose_at, details_enc
FROM cases_before_prefix;
DROP TABLE cases_before_prefix;
CREATE INDEX cases_state ON cases (state);
`
