package store

// schemaSchedule holds the tables owned by package schedule.
const schemaSchedule = `
`
