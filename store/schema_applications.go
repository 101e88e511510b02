package store

// schemaApplications holds distributors' applications to the embargo lists
// (/apply LIST, package cases and intake), the suspensions of distributors
// (/list suspend, package distlist) and the leaks recorded on cases
// (/leak, package cases).
//
// An application's rationale and key, and a leak's text, are kept only
// encrypted at rest to the team key (the sealed columns); what the
// operator's tools list without the key (the reference, the list, the
// address, the state) is in clear.
const schemaApplications = `
-- application: one mail that applied to an embargo list.
CREATE TABLE application (
	id          INTEGER PRIMARY KEY,
	ref         TEXT    NOT NULL UNIQUE,        -- APP-2026-0001
	year        INTEGER NOT NULL,
	seq         INTEGER NOT NULL,               -- per year, from 1
	list        TEXT    NOT NULL,               -- the embargo list applied to
	address     TEXT    NOT NULL,               -- the applicant's From, canonical
	fingerprint TEXT    NOT NULL,               -- the key that came with it, carrying address
	state       TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
	sealed      BLOB    NOT NULL,               -- {name, text, key} as JSON, encrypted at rest
	reason      BLOB,                           -- a denial's reason, encrypted at rest; NULL otherwise
	inbound_id  INTEGER NOT NULL DEFAULT 0,     -- the stored mail it came in
	message_id  TEXT    NOT NULL DEFAULT '',
	received    INTEGER NOT NULL,               -- unix millis
	decided     INTEGER NOT NULL DEFAULT 0,     -- unix millis of the approval or denial, 0 while pending
	decided_by  TEXT    NOT NULL DEFAULT '',    -- fingerprint of the member who decided
	UNIQUE (year, seq)
) STRICT;

-- One pending application per address and list: a second one is refused.
CREATE UNIQUE INDEX application_pending ON application (list, address) WHERE state = 'pending';
CREATE INDEX application_received ON application (received);

-- dir_list: whether a list takes applications by mail, and the criteria
-- an applicant is asked to address (JSON array of strings; '' for the
-- default criteria).
ALTER TABLE dir_list ADD COLUMN applications INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dir_list ADD COLUMN criteria     TEXT    NOT NULL DEFAULT '';

-- dir_suspension: distributors kept out of every notice until reinstated.
CREATE TABLE dir_suspension (
	address TEXT    PRIMARY KEY,                -- canonical
	reason  TEXT    NOT NULL,                   -- as the member gave it
	since   INTEGER NOT NULL,                   -- unix millis
	actor   TEXT    NOT NULL                    -- fingerprint of the member who suspended
) STRICT;

-- case_leak: a leak reported or suspected on a case (/leak WHO: WHAT).
CREATE TABLE case_leak (
	id         INTEGER PRIMARY KEY,
	case_id    INTEGER NOT NULL,
	at         INTEGER NOT NULL,                -- unix millis
	actor      TEXT    NOT NULL,                -- fingerprint of the member who recorded it
	sealed     BLOB    NOT NULL,                -- {who, what} as JSON, encrypted at rest
	message_id TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX case_leak_case ON case_leak (case_id, id);

-- gateway_untrusted_line: the lines that read as commands of texts the
-- gateway sent the team as someone else's words outside any case (an
-- application's rationale), as case_untrusted_line keeps them for a case:
-- SHA-256 of the trimmed line. Such a line never runs as a command.
CREATE TABLE gateway_untrusted_line (
	line_hash BLOB PRIMARY KEY
) STRICT, WITHOUT ROWID;

-- The day's applications are counted by class (intake applications_per_day).
CREATE INDEX inbound_class_received ON inbound (class, received);
`
