package store

// schemaStream (version 24) is a reserved slot, filled by the change that needs it.
const schemaStream = `SELECT 1;`
