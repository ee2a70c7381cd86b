package fence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/sqldialect"
)

// Row guards rows of one of your tables that carry a fence column: a bigint
// holding the highest token written so far (0 for a row never written under
// a lock). Names are plain identifiers; anything else is refused.
type Row struct {
	// Dialect is the database: sqldialect.Postgres, or sqldialect.MySQL for
	// MySQL or MariaDB (InnoDB).
	Dialect sqldialect.Dialect
	// Table is the table, "name" or "schema.name".
	Table string
	// IDColumn identifies a row (a primary or unique key); empty means "id".
	IDColumn string
	// FenceColumn holds the highest token; empty means "fence".
	FenceColumn string
}

// Update runs, on q,
//
//	UPDATE <Table> SET <set>, <fence> = token WHERE <id> = ? AND <fence> <= token
//
// so the write lands only if token is at least the row's fence, and raises
// the fence to token. set is your SET list in the dialect's placeholders for
// args ($1 ... $n on PostgreSQL, ? on MySQL; g.Dialect.Rebind writes ? in
// either); it is spliced into the statement: it must be code, never input. A refused write returns a
// *StaleError (errors.Is ErrStaleToken) with the row's fence; a missing row,
// ErrNotFound.
//
// PostgreSQL decides in the one statement (a CTE reads the row's fence in the
// UPDATE's snapshot). MySQL has no UPDATE ... RETURNING and counts changed
// rows, not matched ones: when the UPDATE changed nothing, a locking read of
// the fence (LOCK IN SHARE MODE) tells a stale token or a missing row from a
// write that matched but left every value as it was; fences only grow, so
// that read is conclusive once it has seen the row before an UPDATE, at the
// cost of a second UPDATE in that rare case: a fence equal to the token then
// is a match that changed nothing (success), a fence below it a row created
// again in between (run again).
//
// A round that writes nothing while the row is at a fence the token passes
// runs again: the next round decides. After maxUndecided (8) such rounds in a
// row Update returns an error wrapping ErrWriteSkipped: something in the
// database, not a concurrent writer, skips the write. On PostgreSQL that
// includes suppress_redundant_updates_trigger when the same token writes the
// same values again.
func (g Row) Update(ctx context.Context, q Querier, id any, token uint64, set string, args ...any) error {
	stmts, err := g.statements(set, len(args))
	if err != nil {
		return err
	}
	tok, err := tokenParam(token)
	switch {
	case err != nil:
		return err
	case q == nil:
		return errors.New("fence: Row.Update needs a non-nil Querier")
	}
	resource := fmt.Sprintf("%s %v", g.Table, id)
	args = append(args[:len(args):len(args)], tok, id)
	sawRow := false
	for range maxUndecided {
		if err := ctx.Err(); err != nil {
			return err
		}
		fence, found, wrote, err := stmts.run(ctx, q, id, args)
		switch {
		case err != nil:
			return fmt.Errorf("fence: update %s: %w", resource, err)
		case wrote:
			return nil
		case !found:
			return fmt.Errorf("fence: update %s: %w", resource, ErrNotFound)
		case fence > tok:
			return stale(resource, token, fence)
		case sawRow && fence == tok && g.Dialect == sqldialect.MySQL:
			return nil // matched twice with nothing to change
		}
		// The row is at a fence the token passes, yet nothing was written:
		// on PostgreSQL a concurrent write moved it after the snapshot; on
		// MySQL the UPDATE may have matched without a change (only when
		// fence == token), or the row appeared in between. Nothing was
		// written: run again.
		sawRow = true
	}
	return fmt.Errorf("fence: update %s with token %d: %w %d times in a row; "+
		"a trigger, rule or row-level security policy may skip the write", resource, token, ErrWriteSkipped, maxUndecided)
}

// maxUndecided bounds the rounds of one Row.Update that write nothing while
// the row is at a fence the token passes. One such round follows a
// concurrent write (or, on MySQL, a match that changed nothing); the next
// round decides.
const maxUndecided = 8

// rowStatements makes one attempt of an Update: whether it wrote, and if
// not, the row's fence as one read saw it.
type rowStatements interface {
	run(ctx context.Context, q Querier, id any, args []any) (fence int64, found, wrote bool, err error)
}

func (g Row) statements(set string, n int) (rowStatements, error) {
	idCol, fenceCol := g.IDColumn, g.FenceColumn
	if idCol == "" {
		idCol = "id"
	}
	if fenceCol == "" {
		fenceCol = "fence"
	}
	if err := g.Dialect.Validate(); err != nil {
		return nil, fmt.Errorf("fence: Row %s: %w", g.Table, err)
	}
	for _, err := range []error{
		sqlname.Table("fence: Row.Table", g.Table),
		sqlname.Column("fence: Row.IDColumn", idCol),
		sqlname.Column("fence: Row.FenceColumn", fenceCol),
	} {
		if err != nil {
			return nil, err
		}
	}
	if set == "" {
		return nil, errors.New("fence: Row.Update needs a non-empty SET list")
	}
	if g.Dialect == sqldialect.Postgres {
		tokP, idP := g.Dialect.Placeholder(n+1), g.Dialect.Placeholder(n+2)
		return pgRow{"WITH upd AS (UPDATE " + g.Table + " SET " + set + ", " + fenceCol + " = " + tokP +
			" WHERE " + idCol + " = " + idP + " AND " + fenceCol + " <= " + tokP + " RETURNING 1)\n" +
			"SELECT EXISTS (SELECT FROM upd), (SELECT " + fenceCol + " FROM " + g.Table + " WHERE " + idCol + " = " + idP + ")"}, nil
	}
	// The token is bound twice: SET fence = ? ... AND fence <= ?.
	return myRow{
		update: "UPDATE " + g.Table + " SET " + set + ", " + fenceCol + " = ? WHERE " + idCol + " = ? AND " + fenceCol + " <= ?",
		read:   "SELECT " + fenceCol + " FROM " + g.Table + " WHERE " + idCol + " = ? LOCK IN SHARE MODE",
	}, nil
}

type pgRow struct{ stmt string }

func (p pgRow) run(ctx context.Context, q Querier, _ any, args []any) (int64, bool, bool, error) {
	var wrote bool
	var fence sql.NullInt64
	if err := q.QueryRowContext(ctx, p.stmt, args...).Scan(&wrote, &fence); err != nil {
		return 0, false, false, err
	}
	return fence.Int64, fence.Valid, wrote, nil
}

type myRow struct{ update, read string }

func (m myRow) run(ctx context.Context, q Querier, id any, args []any) (int64, bool, bool, error) {
	tok := args[len(args)-2]
	res, err := q.ExecContext(ctx, m.update, append(args[:len(args):len(args)], tok)...)
	if err != nil {
		return 0, false, false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return 0, true, n > 0, err
	}
	var fence int64
	err = q.QueryRowContext(ctx, m.read, id).Scan(&fence)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, false, nil
	}
	return fence, err == nil, false, err
}
