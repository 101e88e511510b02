package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Writer().Exec(`CREATE TABLE n (v INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}

// writerCache runs fn on the writer connection's statement cache.
func writerCache(t *testing.T, db *DB, fn func(c *cachedConn)) {
	t.Helper()
	conn, err := db.Writer().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error { fn(dc.(*cachedConn)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestStmtCacheReuses(t *testing.T) {
	db := openTest(t)
	const ins = `INSERT INTO n (v) VALUES (?)`
	var first any
	for i := range 3 {
		if _, err := db.Writer().Exec(ins, i); err != nil {
			t.Fatal(err)
		}
		writerCache(t, db, func(c *cachedConn) {
			e, ok := c.entries[ins]
			if !ok {
				t.Fatalf("exec %d: statement not cached", i)
			}
			cs := e.Value.(*cachedStmt)
			if cs.busy {
				t.Errorf("exec %d: statement still busy after the exec", i)
			}
			if first == nil {
				first = cs.st
			} else if cs.st != first {
				t.Errorf("exec %d: statement prepared again", i)
			}
		})
	}
	var n int
	if err := db.Writer().QueryRow(`SELECT count(*) FROM n`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows (%v), want 3", n, err)
	}
}

// The same text run again while its first Rows is open gets a statement of
// its own: neither resets the other.
func TestStmtCacheNestedSameQuery(t *testing.T) {
	db := openTest(t)
	err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		for i := range 3 {
			if _, err := tx.Exec(`INSERT INTO n (v) VALUES (?)`, i); err != nil {
				return err
			}
		}
		const q = `SELECT v FROM n WHERE v >= ? ORDER BY v`
		outer, err := tx.Query(q, 0)
		if err != nil {
			return err
		}
		defer outer.Close()
		var got []string
		for outer.Next() {
			var v int
			if err := outer.Scan(&v); err != nil {
				return err
			}
			inner, err := tx.Query(q, v)
			if err != nil {
				return err
			}
			var vs []int
			for inner.Next() {
				var w int
				if err := inner.Scan(&w); err != nil {
					return err
				}
				vs = append(vs, w)
			}
			inner.Close()
			got = append(got, fmt.Sprint(v, vs))
		}
		if err := outer.Err(); err != nil {
			return err
		}
		if s := fmt.Sprint(got); s != "[0 [0 1 2] 1 [1 2] 2 [2]]" {
			t.Errorf("nested queries read %s", s)
		}
		// A prepared handle of the same text while it is busy is a
		// second statement too.
		st1, err := tx.Prepare(q)
		if err != nil {
			return err
		}
		defer st1.Close()
		st2, err := tx.Prepare(q)
		if err != nil {
			return err
		}
		defer st2.Close()
		var a, b int
		if err := st1.QueryRow(2).Scan(&a); err != nil {
			return err
		}
		if err := st2.QueryRow(1).Scan(&b); err != nil {
			return err
		}
		if a != 2 || b != 1 {
			t.Errorf("two handles of one text read %d and %d, want 2 and 1", a, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStmtCacheBounded(t *testing.T) {
	db := openTest(t)
	for i := range stmtCacheSize + 50 {
		if _, err := db.Writer().Exec(fmt.Sprintf(`INSERT INTO n (v) VALUES (%d)`, i)); err != nil {
			t.Fatal(err)
		}
	}
	writerCache(t, db, func(c *cachedConn) {
		if c.lru.Len() != stmtCacheSize || len(c.entries) != stmtCacheSize {
			t.Errorf("cache holds %d statements (%d in the index), want %d", c.lru.Len(), len(c.entries), stmtCacheSize)
		}
		if _, ok := c.entries[`INSERT INTO n (v) VALUES (0)`]; ok {
			t.Error("the least recently used statement was kept")
		}
	})
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM n`).Scan(&n); err != nil || n != stmtCacheSize+50 {
		t.Fatalf("%d rows (%v), want %d", n, err, stmtCacheSize+50)
	}
}

// A statement that fails to prepare is not cached and says why.
func TestStmtCacheBadSQL(t *testing.T) {
	db := openTest(t)
	if _, err := db.Writer().Exec(`INSERT INTO nope (v) VALUES (1)`); err == nil {
		t.Fatal("insert into a missing table: no error")
	}
	writerCache(t, db, func(c *cachedConn) {
		if _, ok := c.entries[`INSERT INTO nope (v) VALUES (1)`]; ok {
			t.Error("a statement that did not prepare was cached")
		}
	})
}

// BenchmarkStmtCache runs one short insert as the gateway does, through
// the cache and through a plain pool.
func BenchmarkStmtCache(b *testing.B) {
	ctx := context.Background()
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			dsn := "file:" + filepath.Join(b.TempDir(), "b.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)"
			var db *sql.DB
			if cached {
				var err error
				if db, err = openPool(dsn); err != nil {
					b.Fatal(err)
				}
			} else {
				var err error
				if db, err = sql.Open("sqlite", dsn); err != nil {
					b.Fatal(err)
				}
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.Exec(`CREATE TABLE t (a INTEGER, b TEXT, c INTEGER)`); err != nil {
				b.Fatal(err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			for i := 0; b.Loop(); i++ {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t (a, b, c) VALUES (?, ?, ?)`, i, "x", i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
