package store

// schemaHistory (version 21) is a reserved slot, filled by the change that needs it.
const schemaHistory = `SELECT 1;`
