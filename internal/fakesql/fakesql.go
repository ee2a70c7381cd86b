// Package fakesql is a database/sql connector for tests whose statements are
// answered by functions: it shows what a real server cannot be made to do on
// demand (a database that never writes a row, say).
package fakesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"testing"
)

// DB is a database/sql connector whose statements are answered by its
// functions: Exec answers an ExecContext with the rows affected; Query
// answers a QueryRowContext with its one row (nil: no row). A statement
// whose function is nil fails.
type DB struct {
	Exec  func(query string) int64
	Query func(query string) []driver.Value

	mu         sync.Mutex
	statements int
}

// Open returns a pool on f, closed when the test ends.
func (f *DB) Open(t testing.TB) *sql.DB {
	db := sql.OpenDB(f)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Count returns the number of statements run so far.
func (f *DB) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statements
}

// Connect implements driver.Connector.
func (f *DB) Connect(context.Context) (driver.Conn, error) { return fakeConn{f}, nil }

// Driver implements driver.Connector.
func (f *DB) Driver() driver.Driver { return fakeDriver{f} }

type fakeDriver struct{ f *DB }

func (d fakeDriver) Open(string) (driver.Conn, error) { return fakeConn(d), nil }

type fakeConn struct{ f *DB }

func (fakeConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("fake: no prepared statements")
}
func (fakeConn) Close() error              { return nil }
func (fakeConn) Begin() (driver.Tx, error) { return nil, errors.New("fake: no transactions") }

func (c fakeConn) ExecContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	c.f.mu.Lock()
	c.f.statements++
	c.f.mu.Unlock()
	if c.f.Exec == nil {
		return nil, errors.New("fake: unexpected exec: " + query)
	}
	return driver.RowsAffected(c.f.Exec(query)), nil
}

func (c fakeConn) QueryContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Rows, error) {
	c.f.mu.Lock()
	c.f.statements++
	c.f.mu.Unlock()
	if c.f.Query == nil {
		return nil, errors.New("fake: unexpected query: " + query)
	}
	return &fakeRows{row: c.f.Query(query)}, nil
}

type fakeRows struct {
	row  []driver.Value
	done bool
}

func (r *fakeRows) Columns() []string { return make([]string, max(len(r.row), 1)) }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done || r.row == nil {
		return io.EOF
	}
	r.done = true
	copy(dest, r.row)
	return nil
}
