package store

import "context"

// shortKey marks a context whose statements run without the driver's
// watch for cancellation (ShortStatements).
type shortKey struct{}

// ShortStatements returns a context under which every statement runs
// without the SQLite driver's watch for the context's end. For every
// statement whose context can be cancelled the driver starts a goroutine
// that waits for the end of the context, to interrupt the statement, and
// sets and clears a progress handler: a goroutine started, woken and ended
// for each of the 26 statements of a report, about a twentieth of the
// gateway's CPU in a burst of reports (secgate bench, section b;
// BenchmarkShortStatements). The gateway's parts run only short statements
// (a row, a few rows, a commit) and end their work at the next statement
// once their context is done.
//
// Under ShortStatements a statement, a transaction's BEGIN or its COMMIT
// does not start once the context is done (it returns the context's error,
// as the driver does); one that has started runs to its end, and a wait
// for a lock another process holds lasts up to the busy timeout (10 s)
// even if the context ends meanwhile. Nothing else changes: what commits
// and what does not is the same, since a transaction whose context ended
// is rolled back at its next statement, by its caller or by database/sql.
// Long statements (a backup, an archive, a query of the web view) run
// without the mark, interruptible.
func ShortStatements(ctx context.Context) context.Context {
	return context.WithValue(ctx, shortKey{}, true)
}

// driverContext returns the context to hand the driver for a statement run
// under ctx: ctx itself, or, under ShortStatements, ctx without its
// cancellation, after checking that it has not ended.
func driverContext(ctx context.Context) (context.Context, error) {
	if ctx.Done() == nil || ctx.Value(shortKey{}) == nil {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}
