package store

// schemaDirectory holds the tables owned by package distlist: the people
// the gateway writes to, the lists they are on and their public keys.
const schemaDirectory = `
-- dir_key: public keys, armored, pinned by full fingerprint.
CREATE TABLE dir_key (
	fingerprint TEXT PRIMARY KEY,
	armored     TEXT NOT NULL,
	emails      TEXT NOT NULL DEFAULT '',   -- user-ID addresses, one per line
	expires     INTEGER NOT NULL DEFAULT 0, -- unix millis, 0: never
	imported    INTEGER NOT NULL
) STRICT;

-- dir_member: the security team.
CREATE TABLE dir_member (
	address     TEXT PRIMARY KEY,           -- lower-case
	name        TEXT NOT NULL,
	fingerprint TEXT NOT NULL UNIQUE REFERENCES dir_key(fingerprint),
	role        TEXT NOT NULL CHECK (role IN ('member', 'lead')),
	rota        INTEGER NOT NULL DEFAULT 0,
	away        INTEGER NOT NULL DEFAULT 0,
	tz          TEXT NOT NULL DEFAULT 'UTC',
	source      TEXT NOT NULL CHECK (source IN ('config', 'cli', 'command'))
) STRICT;

-- dir_list: team, embargo and public lists.
CREATE TABLE dir_list (
	name    TEXT PRIMARY KEY,
	kind    TEXT NOT NULL CHECK (kind IN ('team', 'embargo', 'public')),
	encrypt INTEGER NOT NULL,
	source  TEXT NOT NULL CHECK (source IN ('config', 'cli', 'command'))
) STRICT;

CREATE TABLE dir_recipient (
	list        TEXT NOT NULL REFERENCES dir_list(name) ON DELETE CASCADE,
	address     TEXT NOT NULL,              -- lower-case
	name        TEXT NOT NULL DEFAULT '',
	fingerprint TEXT REFERENCES dir_key(fingerprint),
	source      TEXT NOT NULL CHECK (source IN ('config', 'cli', 'command')),
	PRIMARY KEY (list, address)
) STRICT;

-- dir_case_extra: per-case recipients (the reporter, invited experts).
CREATE TABLE dir_case_extra (
	case_id     INTEGER NOT NULL,
	address     TEXT NOT NULL,
	name        TEXT NOT NULL DEFAULT '',
	role        TEXT NOT NULL CHECK (role IN ('reporter', 'expert')),
	fingerprint TEXT REFERENCES dir_key(fingerprint),
	added       INTEGER NOT NULL,
	PRIMARY KEY (case_id, address)
) STRICT;

-- dir_bounce: hard bounces per address; flagged once over the threshold.
CREATE TABLE dir_bounce (
	address     TEXT PRIMARY KEY,
	hard        INTEGER NOT NULL DEFAULT 0,
	last        INTEGER NOT NULL DEFAULT 0,
	last_reason TEXT NOT NULL DEFAULT '',
	flagged     INTEGER NOT NULL DEFAULT 0
) STRICT;
`

// schemaKeyReport (version 7): the weeks whose key report was made (and
// mailed to the team when it had something to say), so that it goes out
// once a week across restarts.
const schemaKeyReport = `
CREATE TABLE key_report (
	week   TEXT    PRIMARY KEY, -- ISO week, 2026-W49
	made   INTEGER NOT NULL,
	mailed INTEGER NOT NULL      -- 0: nothing to report, no mail
) STRICT;
`
