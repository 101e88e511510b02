package store

// schemaOutboxList: the directory list an outbox row was sent to (empty for
// none), so that the outbox checks before sending what that list's kind
// requires (a team or embargo list's mail is always encrypted) rather than
// trusting the encrypt flag stored next to the row's bytes.
const schemaOutboxList = `
ALTER TABLE outbox ADD COLUMN list TEXT NOT NULL DEFAULT '';
`
