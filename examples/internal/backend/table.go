package backend

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/sqldialect"
)

// Table is a table of one run of a program on the -db database: rows of an
// id and an integer n (the stock of an item, the balance of an account).
// Each run makes its own table and drops it when done.
type Table struct {
	DB      *sql.DB
	Dialect sqldialect.Dialect
	// Name is the table's name, a plain identifier.
	Name string
}

// Querier is what runs a statement: the *sql.DB or a *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// NewTable creates a fresh table named after prefix with rows ids 0 to
// rows-1, each holding n.
func (b *Backends) NewTable(ctx context.Context, prefix string, rows, n int) (Table, error) {
	t := Table{DB: b.DB, Dialect: b.Dialect, Name: strings.ReplaceAll(workload.Namespace(prefix), "-", "_")}
	if _, err := t.DB.ExecContext(ctx, t.Q("CREATE TABLE {t} (id INT PRIMARY KEY, n INT NOT NULL)")); err != nil {
		return t, fmt.Errorf("create table %s: %w", t.Name, err)
	}
	for id := range rows {
		if _, err := t.DB.ExecContext(ctx, t.Q("INSERT INTO {t} (id, n) VALUES (?, ?)"), id, n); err != nil {
			return t, fmt.Errorf("fill table %s: %w", t.Name, err)
		}
	}
	return t, nil
}

// Q returns query with {t} replaced by the table's name and, on PostgreSQL,
// each ? by $1, $2, ...
func (t Table) Q(query string) string {
	return t.Dialect.Rebind(strings.ReplaceAll(query, "{t}", t.Name))
}

// Get reads row id's n with q.
func (t Table) Get(ctx context.Context, q Querier, id int) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, t.Q("SELECT n FROM {t} WHERE id = ?"), id).Scan(&n)
	return n, err
}

// Set writes n to row id with q.
func (t Table) Set(ctx context.Context, q Querier, id, n int) error {
	_, err := q.ExecContext(ctx, t.Q("UPDATE {t} SET n = ? WHERE id = ?"), n, id)
	return err
}

// All reads every row's n, by id.
func (t Table) All(ctx context.Context) ([]int, error) {
	rows, err := t.DB.QueryContext(ctx, t.Q("SELECT n FROM {t} ORDER BY id"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	return all, rows.Err()
}

// Drop drops the table, even if ctx is done.
func (t Table) Drop(ctx context.Context) error {
	_, err := t.DB.ExecContext(context.WithoutCancel(ctx), t.Q("DROP TABLE {t}"))
	return err
}
