package store

// schemaKeyLookup (version 25) holds the keys looked up by address alone
// (package distlist, lookup.go): a recipient added by a member's signed
// /list add LIST ADDRESS without a key, or a configured entry with
// wkd = true. The gateway fetches the key from the address's Web Key
// Directory outside any transaction, every member is sent its
// fingerprint, and the key is used only once a member confirms that
// fingerprint (/list confirm, or the fingerprint written in the
// configuration).
const schemaKeyLookup = `
CREATE TABLE dir_lookup (
	id          INTEGER PRIMARY KEY,
	list        TEXT    NOT NULL,             -- the embargo list the address joins
	address     TEXT    NOT NULL,             -- canonical address looked up
	requested_by TEXT   NOT NULL,             -- fingerprint of the member who asked, or 'config'
	requested   INTEGER NOT NULL,             -- unix millis
	confirmed   TEXT    NOT NULL DEFAULT '',  -- a fingerprint confirmed ahead (configuration), '' if none
	state       TEXT    NOT NULL DEFAULT 'pending'
	            CHECK (state IN ('pending', 'found', 'failed', 'added', 'replaced')),
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_try    INTEGER NOT NULL DEFAULT 0,   -- unix millis of the next attempt while pending
	key         BLOB,                         -- the public key found (as published), while found
	fingerprint TEXT    NOT NULL DEFAULT '',  -- its primary key's fingerprint
	detail      TEXT    NOT NULL DEFAULT '',  -- why it failed, or who confirmed it
	decided     INTEGER NOT NULL DEFAULT 0    -- unix millis of found/failed/added
) STRICT;
CREATE UNIQUE INDEX dir_lookup_open ON dir_lookup (list, address) WHERE state IN ('pending', 'found');
CREATE INDEX dir_lookup_due ON dir_lookup (state, next_try);
`
