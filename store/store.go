// Package store opens secgate's SQLite database and keeps its schema.
//
// One file holds everything: cases, the audit log, the outbox, scheduled
// jobs and the raw inbound messages; the cases `secgate archive` moved out
// are in a second file of the same schema (package cases, Archiver). There is a single writer connection
// (BEGIN IMMEDIATE, synchronous=FULL, so that every commit that precedes an
// outside acknowledgement is on disk) and a small pool of read-only
// connections. Times are stored as integer Unix milliseconds.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is an open secgate database.
type DB struct {
	path   string
	w      *sql.DB // the one writer connection
	r      *sql.DB // read-only pool
	health writeHealth
}

// cacheKiB is the page cache of each connection, in KiB.
const cacheKiB = 512

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	// Each connection's page cache is 512 KiB rather than SQLite's 2 MiB
	// (cache_size -2000). SQLite's memory is outside the Go heap and the
	// soft memory limit, and a big message's pieces, read and written
	// once, filled every connection's cache: 8 MiB of a 25 MiB report's
	// peak (secgate bench, section d) for pages read once.
	common := "_pragma=busy_timeout(" + strconv.Itoa(int(busyWait.Milliseconds())) + ")&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=trusted_schema(0)&_pragma=cache_size(" + strconv.Itoa(-cacheKiB) + ")"
	u := "file:" + (&url.URL{Path: path}).EscapedPath()
	// The writer keeps its temporary files in memory: the sub-journal of a
	// savepoint (intake runs each message of a group commit in one) holds
	// the first copy of every page the savepoint changes, only to roll the
	// savepoint back, and as a file it cost a write system call per page.
	// It is not part of durability: the WAL is.
	w, err := openPool(u + "?" + common + "&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: path, w: w}
	if err := ping(ctx, w); err != nil {
		w.Close()
		return nil, openError(path, err)
	}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		if IsStorageError(err) {
			return nil, openError(path, err)
		}
		return nil, err
	}
	r, err := openPool(u + "?" + common + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db.r = r
	return db, nil
}

// openError says what the operator must fix when the database cannot be
// opened for writing.
func openError(path string, err error) error {
	if IsStorageError(err) {
		return fmt.Errorf("store: %s does not accept writes (is its disk full, or the file read-only?): %w", path, err)
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}

// openPool returns a pool of connections to dsn that keep their prepared
// statements (stmtcache.go).
func openPool(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{c}), nil
}

// Path returns the file the database lives in.
func (db *DB) Path() string { return db.path }

// Close checkpoints the WAL and closes every connection.
func (db *DB) Close() error {
	_, cerr := db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	err := errors.Join(db.r.Close(), db.w.Close())
	if err == nil && cerr != nil {
		err = fmt.Errorf("store: checkpoint: %w", cerr)
	}
	return err
}

// Writer returns the single writer connection pool (one connection). Prefer
// Tx for writes.
func (db *DB) Writer() *sql.DB { return db.w }

// Reader returns the read-only connection pool.
func (db *DB) Reader() *sql.DB { return db.r }

// Tx runs fn in one IMMEDIATE write transaction and commits it durably
// (synchronous=FULL). If fn returns an error the transaction is rolled back.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		db.health.record(err)
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		db.health.record(err)
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		db.health.record(err)
		return fmt.Errorf("store: commit: %w", err)
	}
	db.health.record(nil)
	return nil
}

// Backup writes a consistent copy of the database to dst while it is in use.
// dst must not exist.
func (db *DB) Backup(ctx context.Context, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("store: backup %s: file exists", dst)
	}
	if _, err := db.w.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("store: backup %s: %w", dst, err)
	}
	return nil
}

// IsUnique reports whether err is a UNIQUE or PRIMARY KEY constraint
// violation, which callers use for idempotent inserts.
func IsUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Millis converts t to the stored form: Unix milliseconds, 0 for the zero time.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time converts stored Unix milliseconds back to a UTC time; 0 is the zero time.
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
