package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Storage failures (a full disk, a read-only file, an I/O error) are
// routine events: the gateway keeps running, leaves its work where it is
// (mail unmoved on the server, rows unsent), says so in its health, and
// resumes when writes succeed again. DB remembers the last write failure
// of that kind until a later write succeeds.

// writeHealth is the state of writes to the database.
type writeHealth struct {
	mu    sync.Mutex
	err   error     // the last storage failure, nil after a success
	since time.Time // when writes began to fail, or to succeed again
}

func (h *writeHealth) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil && h.err != nil:
		h.err, h.since = nil, time.Now()
	case err != nil && IsStorageError(err):
		if h.err == nil {
			h.since = time.Now()
		}
		h.err = err
	}
}

// WriteHealth returns since when writes have failed or succeeded again
// (zero when no write failed since the database was opened), and the last
// storage failure of a write, nil when the last write succeeded.
func (db *DB) WriteHealth() (since time.Time, err error) {
	db.health.mu.Lock()
	defer db.health.mu.Unlock()
	return db.health.since, db.health.err
}

// IsStorageError reports whether err is SQLite failing to store: the disk
// is full, the file is read-only or cannot be opened, an I/O error, or a
// damaged file. A constraint or a busy database is not one.
func IsStorageError(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM:
		return true
	}
	return false
}

// Probe writes to the database (one small row, committed) and reports
// whether it accepts writes: what a health check and the start-up of the
// gateway ask.
func (db *DB) Probe(ctx context.Context) error {
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
			Millis(time.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %s does not accept writes (is its disk full, or the file read-only?): %w", db.path, err)
	}
	return nil
}
