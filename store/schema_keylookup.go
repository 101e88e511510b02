package store

// schemaKeyLookup (version 25) is a reserved slot, filled by the change that needs it.
const schemaKeyLookup = `SELECT 1;`
