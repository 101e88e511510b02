package store

// schemaOps (version 11): what operations ask of a running gateway.
// store_probe is the one row Probe writes to learn whether the database
// accepts writes; case_refusal counts refused command mails by kind for
// the metrics (the audit log says each one, in words).
const schemaOps = `
CREATE TABLE store_probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
) STRICT;

CREATE TABLE case_refusal (
	code TEXT    PRIMARY KEY,
	n    INTEGER NOT NULL
) STRICT;
`
