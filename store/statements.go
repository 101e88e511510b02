package store

// Statements returns how many statements the database's connections have
// run since it was opened, the writer's and the read pool's, each query,
// exec and prepared statement counted once (BEGIN and COMMIT are not
// statements here). Tests and benchmarks read it to count a unit of
// work's statements: each costs a few per cent of a report's CPU.
func (db *DB) Statements() uint64 { return db.stmts.Load() }
