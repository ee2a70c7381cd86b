package sqllock

import (
	"context"
	"database/sql"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/sqldialect"
)

// database is one of the two databases every test runs against.
type database struct {
	name    string
	dialect sqldialect.Dialect
	open    func(t testing.TB) *sql.DB // a new pool on the test's schema
	dsn     func(t testing.TB) string
}

var databases = []database{
	{"postgres", sqldialect.Postgres, func(t testing.TB) *sql.DB { return testenv.Postgres(t) }, testenv.PostgresDSN},
	{"mariadb", sqldialect.MySQL, func(t testing.TB) *sql.DB { return testenv.MySQL(t) }, testenv.MySQLDSN},
}

// openOn opens a new pool on owner's schema, closed when t ends: the cases
// of a conformance run share one schema, made before their clocks start.
func (db database) openOn(owner, t testing.TB) *sql.DB {
	driver := "mysql"
	if db.dialect == sqldialect.Postgres {
		driver = "pgx"
	}
	pool, err := sql.Open(driver, db.dsn(owner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

// eachDB runs fn as a subtest per database.
func eachDB(t *testing.T, fn func(t *testing.T, db database)) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { fn(t, db) })
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t testing.TB, db *sql.DB, d sqldialect.Dialect, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(testCtx(t), d.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func begin(t testing.TB, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(testCtx(t), nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// crashableDB opens a pool whose network connections can all be cut at once,
// as when the process holding them dies.
// The pool is on owner's schema and closed when t ends.
func crashableDB(t testing.TB, db database, owner testing.TB) (*sql.DB, func()) {
	var mu sync.Mutex
	var conns []net.Conn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	crash := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}
	var pool *sql.DB
	if db.dialect == sqldialect.Postgres {
		cfg, err := pgx.ParseConfig(db.dsn(owner))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DialFunc = dial
		pool = stdlib.OpenDB(*cfg)
	} else {
		cfg, err := mysql.ParseDSN(db.dsn(owner))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DialFunc = dial
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pool = sql.OpenDB(connector)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return pool, crash
}
