package store

// schemaTeamKey (version 19) records the rotations of the team key
// (secgate key rotate): each row is a key the team used before, kept so
// that mail encrypted to it opens during the overlap and data stored for
// it stays readable, and so that audit heads it signed still verify.
//
// overlap_until is when the old key stops opening new mail (unix millis);
// retired is when secgate key retire ended the overlap early, 0 if not;
// statement is the transition statement both keys signed.
const schemaTeamKey = `
CREATE TABLE team_key_history (
	fingerprint   TEXT    PRIMARY KEY,            -- the old key
	successor     TEXT    NOT NULL,               -- the key that replaced it
	rotated       INTEGER NOT NULL,
	overlap_until INTEGER NOT NULL,
	retired       INTEGER NOT NULL DEFAULT 0,
	public_key    TEXT    NOT NULL,               -- armored public key of the old key
	statement     TEXT    NOT NULL
) STRICT;
`
