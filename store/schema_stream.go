package store

// schemaStream (version 24): inbound_spool names the pieces of a big
// inbound message that was streamed from the IMAP server into blob_chunk
// as it arrived, before its row existed (owner 'inbound-spool', id spool).
// The transaction that stores the row inserts this one, so the pieces
// belong to a row from the moment the row is visible; pieces whose spool
// no row names are what a fetch left behind, and intake deletes them when
// its next IMAP session starts. Naming the pieces here, rather than
// moving them under the row (owner 'inbound'), spares SQLite a rewrite of
// the whole message, which it journals in memory.
const schemaStream = `
CREATE TABLE inbound_spool (
	inbound_id INTEGER PRIMARY KEY REFERENCES inbound(id) ON DELETE CASCADE, -- the row whose message the pieces hold
	spool      INTEGER NOT NULL UNIQUE                                        -- blob_chunk.id of the pieces, owner 'inbound-spool'
) STRICT;
`
