package store

// schemaAck holds acknowledgements of notices (package schedule, intake).
// It is a placeholder until that work lands: a migration that does nothing.
const schemaAck = `SELECT 1;`
