package store

// schemaOutbox holds the tables owned by package distlist.
const schemaOutbox = `
`
