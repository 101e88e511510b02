package store

// schemaCases holds the tables owned by package cases.
const schemaCases = `
`
