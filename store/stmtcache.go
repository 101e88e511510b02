package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// stmtCacheSize is how many prepared statements each connection keeps.
// secgate's statements are fixed strings, a few dozen in all; the bound
// only matters for text built at run time, which the least recently used
// entry makes room for.
const stmtCacheSize = 128

// cachingConnector hands out connections that keep their prepared
// statements. database/sql prepares, runs and finalizes a statement for
// every ExecContext and QueryContext that names its text, and SQLite's
// parser is a large share of a short statement's cost: the gateway runs the
// same few dozen statements all day.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachedConn(conn)
}

// sqlConn is what the SQLite driver's connections implement and what
// cachedConn passes through.
type sqlConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
}

// cachedConn is one connection with its statement cache. database/sql uses
// a connection from one goroutine at a time; the mutex keeps the cache
// consistent should a Rows be closed from elsewhere.
type cachedConn struct {
	sqlConn
	mu      sync.Mutex
	entries map[string]*list.Element // of *cachedStmt
	lru     list.List                // front: most recently used
}

// cachedStmt is a prepared statement of the cache. While busy (a Rows or a
// Stmt handle still uses it) a second use of the same text gets a statement
// of its own, so that neither resets the other.
type cachedStmt struct {
	query string
	st    driver.Stmt
	busy  bool
}

func newCachedConn(conn driver.Conn) (*cachedConn, error) {
	sc, ok := conn.(sqlConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: the SQLite driver's connection lacks the context methods")
	}
	return &cachedConn{sqlConn: sc, entries: map[string]*list.Element{}}, nil
}

// get returns a prepared statement for query and the function that gives
// it back: to the cache, or, for a second use of a text that is busy, to
// SQLite (finalized).
func (c *cachedConn) get(ctx context.Context, query string) (driver.Stmt, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			st, err := c.sqlConn.PrepareContext(ctx, query)
			if err != nil {
				return nil, nil, err
			}
			return st, func() { st.Close() }, nil
		}
		cs.busy = true
		c.lru.MoveToFront(e)
		return cs.st, func() { c.put(cs) }, nil
	}
	st, err := c.sqlConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	cs := &cachedStmt{query: query, st: st, busy: true}
	c.entries[query] = c.lru.PushFront(cs)
	c.evict()
	return st, func() { c.put(cs) }, nil
}

func (c *cachedConn) put(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.evict()
	c.mu.Unlock()
}

// evict finalizes the least recently used idle statements beyond the
// cache's size. c.mu is held.
func (c *cachedConn) evict() {
	for e := c.lru.Back(); e != nil && c.lru.Len() > stmtCacheSize; {
		prev := e.Prev()
		if cs := e.Value.(*cachedStmt); !cs.busy {
			c.lru.Remove(e)
			delete(c.entries, cs.query)
			cs.st.Close()
		}
		e = prev
	}
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := driverContext(ctx)
	if err != nil {
		return nil, err
	}
	st, release, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	defer release()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := driverContext(ctx)
	if err != nil {
		return nil, err
	}
	st, release, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		release()
		return nil, err
	}
	return &cachedRows{Rows: rows, release: release}, nil
}

func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, release, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return &stmtHandle{Stmt: st, release: release}, nil
}

// BeginTx begins a transaction; under ShortStatements its BEGIN and
// COMMIT run without the driver's watch (short.go).
func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	ctx, err := driverContext(ctx)
	if err != nil {
		return nil, err
	}
	return c.sqlConn.BeginTx(ctx, opts)
}

func (c *cachedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// Close finalizes every cached statement, then closes the connection.
func (c *cachedConn) Close() error {
	c.mu.Lock()
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).st.Close())
	}
	c.lru.Init()
	c.entries = map[string]*list.Element{}
	c.mu.Unlock()
	errs = append(errs, c.sqlConn.Close())
	return errors.Join(errs...)
}

// The driver's optional interfaces that database/sql looks for.

func (c *cachedConn) Ping(ctx context.Context) error {
	if p, ok := c.sqlConn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.sqlConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachedConn) IsValid() bool {
	if v, ok := c.sqlConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows gives its statement back when closed.
type cachedRows struct {
	driver.Rows
	once    sync.Once
	release func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

// stmtHandle is a statement prepared through the cache; closing it gives
// the statement back instead of finalizing it.
type stmtHandle struct {
	driver.Stmt
	once    sync.Once
	release func()
}

func (h *stmtHandle) Close() error {
	h.once.Do(h.release)
	return nil
}

func (h *stmtHandle) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := driverContext(ctx)
	if err != nil {
		return nil, err
	}
	return h.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (h *stmtHandle) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := driverContext(ctx)
	if err != nil {
		return nil, err
	}
	return h.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
