package store

// schemaArchive (version 22): cases moved to the archive database by
// `secgate archive` (package cases, archive.go). Both databases have the
// same schema; archived_case means one thing in each:
//
//   - in the project's database, a case that was moved out: its id and
//     reference stay taken (a new case never reuses them), and its rows
//     are in the archive database;
//   - in the archive database, a case whose copy is whole: the copy was
//     written in one transaction with this row, digest naming what was
//     copied.
//
// archived_untrusted_line keeps, in the project's database, the lines
// that read as commands of the texts the gateway sent the team as someone
// else's words in a case that was archived (case_untrusted_line moves with
// the case): such a line never runs as a command that needs no case.
// The indexes let a move find a case's rows in the tables that had none
// by case.
const schemaArchive = `
CREATE TABLE archived_case (
	id       INTEGER PRIMARY KEY,         -- the case's id, the same in both databases
	ref      TEXT    NOT NULL UNIQUE,     -- SEC-2026-0001
	prefix   TEXT    NOT NULL,
	year     INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	closed   INTEGER NOT NULL,            -- unix millis of the case's last change (its closing or after)
	digest   TEXT    NOT NULL,            -- SHA-256 of the case's rows as copied, hex
	archived INTEGER NOT NULL             -- unix millis of the move
) STRICT;
CREATE INDEX archived_case_number ON archived_case (prefix, year, seq);
CREATE TABLE archived_untrusted_line (
	line_hash BLOB PRIMARY KEY
) STRICT, WITHOUT ROWID;
-- A move reads and deletes a case's rows by case: without these, each
-- move would read the whole table.
CREATE INDEX inbound_case ON inbound (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX outbox_event_case ON outbox_event (case_id);
CREATE INDEX case_approval_case ON case_approval (case_id);
`
