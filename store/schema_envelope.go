package store

// schemaEnvelope (version 23) holds the data keys (envelope keys) that seal
// data at rest in place of a public-key encryption to the team key for
// every value (crypto.DataKey). A data key is stored only wrapped:
// encrypted to a team key, which unlocks it when the gateway starts. A
// copy of the database without the team key and its passphrase reads
// nothing, as before.
//
// data_key is one row per data key, never deleted: what it sealed opens
// only with it. New data is sealed with the newest data key made for the
// current team key; after a rotation the gateway makes a new one, so that
// the old team key, should it leak, opens nothing stored afterwards.
//
// data_key_wrap holds each data key wrapped to a team key: to the one in
// force when it was made, and to every team key that succeeded it (the
// gateway wraps the older data keys to a new team key when it first starts
// with it), so that what was stored before a rotation opens with the
// current key. A wrap encrypts a statement of the data key's ID, the team
// key it was made for and the key, signed by that team key: the gateway
// uses no data key whose statement that key did not sign, so that nobody
// can plant one by writing the database.
const schemaEnvelope = `
CREATE TABLE data_key (
	id      INTEGER PRIMARY KEY,   -- the ID every value it sealed starts with
	team    TEXT    NOT NULL,      -- fingerprint of the team key it was made for (as its signed statement says)
	created INTEGER NOT NULL       -- unix millis
) STRICT;
CREATE TRIGGER data_key_no_delete BEFORE DELETE ON data_key
BEGIN SELECT RAISE(ABORT, 'data_key is append-only: what a data key sealed opens only with it'); END;

CREATE TABLE data_key_wrap (
	key_id      INTEGER NOT NULL REFERENCES data_key (id),
	fingerprint TEXT    NOT NULL,  -- the team key it is wrapped to
	wrapped     BLOB    NOT NULL,  -- the data key encrypted to that team key alone (binary OpenPGP)
	created     INTEGER NOT NULL,  -- unix millis
	PRIMARY KEY (key_id, fingerprint)
) STRICT;
`
