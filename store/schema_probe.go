package store

// schemaProbe: store_probe is the one row Probe writes to learn whether
// the database accepts writes.
const schemaProbe = `
CREATE TABLE store_probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
) STRICT;
`
