package occ

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/sqldialect"
)

// ErrWriteSkipped means that Table.Update found the row at the expected
// version 8 rounds in a row, yet the database wrote nothing: a
// trigger (on PostgreSQL a BEFORE UPDATE trigger returning NULL), a rule or a
// row-level security policy may skip the write. A concurrent write cannot
// explain it: the next round would have seen the row at another version.
// Nothing was written.
var ErrWriteSkipped = errors.New("occ: the row qualified but the database wrote nothing")

// maxUndecided bounds the rounds of one Table.Update that write nothing
// while the row is at the expected version. One such round follows a
// concurrent write; the next round decides.
const maxUndecided = 8

// Querier runs statements: a *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Table is one of the caller's own tables whose rows carry a version column,
// for optimistic updates with UPDATE ... WHERE id = ? AND version = ?.
// The version column is an integer that every write of the row increases:
// write the row only through Update (or with version = version + 1 in your
// own statements). Names are plain identifiers; anything else is refused.
type Table struct {
	// Dialect is the database: sqldialect.Postgres, or sqldialect.MySQL for
	// MySQL or MariaDB (InnoDB).
	Dialect sqldialect.Dialect
	// Name is the table, "name" or "schema.name".
	Name string
	// IDColumn is the column that identifies a row (a primary or unique
	// key); empty means "id".
	IDColumn string
	// VersionColumn is the version column; empty means "version".
	VersionColumn string
}

// Update runs, on q,
//
//	UPDATE <Name> SET <set>, <version> = <version> + 1 WHERE <id> = ? AND <version> = ?
//
// and returns the row's new version (version+1). set is the caller's SET list
// in the dialect's placeholders for args ($1 ... $n on PostgreSQL, ? on
// MySQL; t.Dialect.Rebind writes ? in either); the id and version are bound
// after them. set is spliced into the statement: it must be code, never
// input.
//
// When no row matched, Update returns an error wrapping cas.ErrConflict if the
// row exists at another version (someone wrote it since it was read at
// version: read again and retry, see Retry), and cas.ErrNotFound if there is
// no row with that id. On PostgreSQL the two are told apart in the same
// statement (a CTE reads the row in the UPDATE's snapshot). On MySQL, which
// has no UPDATE ... RETURNING, a refused UPDATE is followed by a locking read
// of the row's version (LOCK IN SHARE MODE, which sees the latest committed
// row also inside a REPEATABLE READ transaction); the UPDATE wrote nothing,
// so the answer is the row as that read saw it. If the row was created at
// exactly that version in between, Update runs again.
//
// A round that writes nothing while the row is at version (on PostgreSQL, a
// write committed after the statement's snapshot; on MySQL, the row created
// again in between) runs again: the next round decides. After maxUndecided
// (8) such rounds in a row Update returns an error wrapping ErrWriteSkipped:
// something in the database, not a concurrent writer, skips the write.
//
// In a transaction: on PostgreSQL at REPEATABLE READ or SERIALIZABLE a
// concurrent write makes the statement fail with a serialization error
// (SQLSTATE 40001) instead of ErrConflict; on MySQL at REPEATABLE READ (its
// default) plain SELECTs keep seeing the transaction's first snapshot, so
// after ErrConflict roll back and retry in a new transaction, or read the row
// with FOR UPDATE / LOCK IN SHARE MODE.
func (t Table) Update(ctx context.Context, q Querier, id any, version int64, set string, args ...any) (int64, error) {
	stmts, err := t.statements(set, len(args))
	switch {
	case err != nil:
		return 0, err
	case q == nil:
		return 0, errors.New("occ: Table.Update needs a non-nil Querier")
	}
	args = append(args[:len(args):len(args)], id, version)
	for range maxUndecided {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		next, decided, err := stmts.run(ctx, q, id, version, args)
		if err != nil {
			return 0, fmt.Errorf("occ: update %s %v at version %d: %w", t.Name, id, version, err)
		}
		if decided {
			return next, nil
		}
	}
	return 0, fmt.Errorf("occ: update %s %v at version %d: %w %d times in a row; "+
		"a trigger, rule or row-level security policy may skip the write", t.Name, id, version, ErrWriteSkipped, maxUndecided)
}

// rowStatements are the statements of one Update; run makes one attempt.
type rowStatements interface {
	run(ctx context.Context, q Querier, id any, version int64, args []any) (next int64, decided bool, err error)
}

// statements validates the Table and builds the statements of an Update of
// set with n arguments.
func (t Table) statements(set string, n int) (rowStatements, error) {
	idCol, verCol := t.IDColumn, t.VersionColumn
	if idCol == "" {
		idCol = "id"
	}
	if verCol == "" {
		verCol = "version"
	}
	if err := t.Dialect.Validate(); err != nil {
		return nil, fmt.Errorf("occ: Table %s: %w", t.Name, err)
	}
	for _, err := range []error{
		sqlname.Table("occ: Table.Name", t.Name),
		sqlname.Column("occ: Table.IDColumn", idCol),
		sqlname.Column("occ: Table.VersionColumn", verCol),
	} {
		if err != nil {
			return nil, err
		}
	}
	if set == "" {
		return nil, errors.New("occ: Table.Update needs a non-empty SET list")
	}
	update := "UPDATE " + t.Name + " SET " + set + ", " + verCol + " = " + verCol + " + 1 WHERE " + idCol + " = "
	if t.Dialect == sqldialect.Postgres {
		idP, verP := t.Dialect.Placeholder(n+1), t.Dialect.Placeholder(n+2)
		return pgRow{stmt: "WITH upd AS (" + update + idP + " AND " + verCol + " = " + verP + " RETURNING " + verCol + ")\n" +
			"SELECT (SELECT " + verCol + " FROM upd), (SELECT " + verCol + " FROM " + t.Name + " WHERE " + idCol + " = " + idP + ")"}, nil
	}
	return myRow{
		update: update + "? AND " + verCol + " = ?",
		read:   "SELECT " + verCol + " FROM " + t.Name + " WHERE " + idCol + " = ? LOCK IN SHARE MODE",
	}, nil
}

// pgRow is an Update on PostgreSQL: one statement that writes and, when it
// does not, reads the row in the same snapshot.
type pgRow struct{ stmt string }

func (p pgRow) run(ctx context.Context, q Querier, _ any, version int64, args []any) (int64, bool, error) {
	var next, current sql.NullInt64
	if err := q.QueryRowContext(ctx, p.stmt, args...).Scan(&next, &current); err != nil {
		return 0, false, err
	}
	if next.Valid {
		return next.Int64, true, nil
	}
	err := refused(current.Valid, current.Int64, version)
	return 0, err != nil, err
}

// myRow is an Update on MySQL: the UPDATE, and a locking read of the row
// when it changed none.
type myRow struct{ update, read string }

func (m myRow) run(ctx context.Context, q Querier, id any, version int64, args []any) (int64, bool, error) {
	res, err := q.ExecContext(ctx, m.update, args...)
	if err != nil {
		return 0, false, err
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return 0, false, err
	case n > 0:
		return version + 1, true, nil
	}
	var current int64
	err = q.QueryRowContext(ctx, m.read, id).Scan(&current)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	err = refused(found, current, version)
	return 0, err != nil, err
}

// refused decides a refused update from the row one read saw. It returns
// nil when the row is at version, which cannot explain the refusal: a write
// committed in between and the update must run again.
func refused(found bool, current, version int64) error {
	switch {
	case !found:
		return cas.ErrNotFound
	case current != version:
		return fmt.Errorf("%w: the row is at version %d", cas.ErrConflict, current)
	}
	return nil
}
