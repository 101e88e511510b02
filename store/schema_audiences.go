package store

// schemaAudiences holds embargo audiences and their rules.
// It is a placeholder until that work lands: a migration that does nothing.
const schemaAudiences = `SELECT 1;`
