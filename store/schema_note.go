package store

// schemaNoteConsent holds what a security note and the reporter's consent
// to a disclosure need (package schedule).
//
// security_note gives each published security note its ID,
// PREFIX-YYYY-NNN: the number is the next of its prefix and year, taken in
// the transaction that publishes the note, and the constraints keep an ID,
// a number and a case's note from ever being given twice.
//
// The consent columns of schedule_plan: consent_asked is when the reporter
// was asked to agree to the plan (0: nothing waits for them), consent_t0
// the disclosure time they were asked about or agreed to, consent who
// agreed and how (or the reason a lead forced it), consent_code the hash
// of the code the proposal gave them.
const schemaNoteConsent = `
CREATE TABLE security_note (
	id        TEXT    PRIMARY KEY,            -- KCSN-2026-001
	prefix    TEXT    NOT NULL,
	year      INTEGER NOT NULL,
	seq       INTEGER NOT NULL,
	case_id   INTEGER NOT NULL UNIQUE,
	published INTEGER NOT NULL,
	UNIQUE (prefix, year, seq)
) STRICT;

ALTER TABLE schedule_plan ADD COLUMN consent_asked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedule_plan ADD COLUMN consent_t0    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedule_plan ADD COLUMN consent       TEXT    NOT NULL DEFAULT '';
ALTER TABLE schedule_plan ADD COLUMN consent_code  TEXT    NOT NULL DEFAULT '';
`
