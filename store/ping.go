package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyWait is how long opening waits for another process's lock: the
// busy_timeout the connections are opened with.
const busyWait = 10 * time.Second

// ping opens the writer's connection, which sets its pragmas. Putting a
// new database in WAL mode takes a lock SQLite does not wait for (the
// busy handler is not called for it): a second process opening the same
// new file at that moment gets SQLITE_BUSY at once. It waits here
// instead, as long as the busy timeout would (TestMigrateAtOnce).
func ping(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(busyWait)
	for {
		err := w.PingContext(ctx)
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (or one of its
// extended codes).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
