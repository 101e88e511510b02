package store

// schemaArchive (version 22) is a reserved slot, filled by the change that needs it.
const schemaArchive = `SELECT 1;`
