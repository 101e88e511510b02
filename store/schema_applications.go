package store

// schemaApplications holds distributor applications, suspensions and leak records.
// It is a placeholder until that work lands: a migration that does nothing.
const schemaApplications = `SELECT 1;`
