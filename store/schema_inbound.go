package store

// schemaInbound holds the tables owned by package intake.
const schemaInbound = `
`
