package store

// schemaDirectory holds the tables owned by package distlist.
const schemaDirectory = `
`
