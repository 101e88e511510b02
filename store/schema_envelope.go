package store

// schemaEnvelope (version 23) is a reserved slot, filled by the change that needs it.
const schemaEnvelope = `SELECT 1;`
