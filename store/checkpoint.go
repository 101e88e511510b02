package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// A checkpoint copies the pages the WAL holds into the database file, so
// that the WAL can start again from its beginning. SQLite runs one in the
// connection that commits, at the end of the commit that brings the WAL to
// wal_autocheckpoint frames (1,000): the writer, the one connection every
// write of the gateway waits for, writes the pages and syncs the WAL and
// the database file before its next transaction can begin. On a database
// of years a commit dirties more pages scattered over the file (the leaves
// of the indexes of big tables: an outbox row's Message-ID, token and
// notice, an inbound message's hash), so each checkpoint copies more of
// them: in secgate bench -history, 45 % more write calls in checkpoints
// than on the empty database for the same reports.
//
// The checkpointer runs them in a connection of its own instead, in the
// background, once the WAL holds checkpointFrames frames not yet copied:
// a PASSIVE checkpoint, which takes no lock a writer or a reader waits
// for, while the writer goes on committing. Durability is unchanged: a
// commit is durable when its frames are synced in the WAL
// (synchronous=FULL), whoever copies them later, and the checkpoint syncs
// the WAL before it copies and the database file before the WAL may be
// reused, as the writer's own does. The writer keeps its own automatic
// checkpoint at backstopFrames, should the checkpointer fall behind.

const (
	// checkpointFrames is how many frames the WAL holds, not yet
	// copied, before the checkpointer copies them: SQLite's own default
	// for wal_autocheckpoint.
	checkpointFrames = 1000
	// backstopFrames is the writer's wal_autocheckpoint.
	backstopFrames = 8 * checkpointFrames
)

// checkpointer runs the WAL's checkpoints in the background.
type checkpointer struct {
	pool   *sql.DB // a connection of its own, neither the writer nor a reader
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	health *writeHealth

	mu sync.Mutex
	// after, if set, is called after each checkpoint (tests).
	after func(walFrames, copied int, err error)
}

// startCheckpointer starts the checkpointer of the database opened as
// dsn, recording its storage failures in health.
func startCheckpointer(dsn string, health *writeHealth) (*checkpointer, error) {
	pool, err := openPool(dsn)
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(1)
	pool.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{pool: pool, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}), health: health}
	go c.run(ctx)
	return c, nil
}

// committed tells the checkpointer that the writer commits: its commit
// hook, called in the writer's connection, so it never waits.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run runs a checkpoint whenever a commit leaves checkpointFrames
// frames to copy, until ctx ends. Its statements run to their end, under
// a context that is never cancelled: no goroutine of database/sql or of
// the driver watches each (a checkpoint is bounded by the WAL's frames).
func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	sctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if n, ok := c.toCopy(sctx); ok && n < checkpointFrames {
			continue
		}
		var busy, frames, copied int
		err := c.pool.QueryRowContext(sctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
		if err != nil {
			// Only a failure is recorded: a success here says nothing
			// of the writer's commits.
			c.health.record(fmt.Errorf("store: checkpoint: %w", err))
		}
		c.mu.Lock()
		after := c.after
		c.mu.Unlock()
		if after != nil {
			after(frames, copied, err)
		}
	}
}

// toCopy returns how many frames of the WAL are not yet copied into the
// database file, as a NOOP checkpoint tells without copying any; ok is
// false when it cannot tell, and the checkpoint then runs (it costs
// little when there is nothing to copy).
func (c *checkpointer) toCopy(ctx context.Context) (n int, ok bool) {
	var busy, frames, copied int
	if err := c.pool.QueryRowContext(ctx, `PRAGMA wal_checkpoint(NOOP)`).Scan(&busy, &frames, &copied); err != nil || frames < copied {
		return 0, false
	}
	return frames - copied, true
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.pool.Close()
}

// backstopPragma sets the writer's own automatic checkpoint to
// backstopFrames (TestCheckpointInBackground).
const backstopPragma = "&_pragma=wal_autocheckpoint(8000)"
