package sqllock

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// LockIDs locks the rows of table whose column (the primary key or another
// unique, indexed column) is one of ids, in the order of that column, and
// returns the ids it locked in that order. Every transaction that locks its
// rows through LockIDs takes them in the same order, so two transfers
// between the same accounts cannot deadlock each other:
//
//	ids, err := sqllock.LockIDs(ctx, tx, sqllock.RowLock{Dialect: d}, "accounts", "id", from, to)
//
// Ids that match no row are missing from the result (and, with SkipLocked,
// ids of rows locked by others). Without ids it returns nil and locks
// nothing. table and column must be plain identifiers (table may be
// "schema.table"); they are quoted.
func LockIDs[T cmp.Ordered](ctx context.Context, tx *sql.Tx, l RowLock, table, column string, ids ...T) ([]T, error) {
	if err := l.check(tx); err != nil {
		return nil, err
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	if err := checkColumn(column); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i] = l.Dialect.Placeholder(i + 1)
		args[i] = id
	}
	col := quote(l.Dialect, column)
	// The database locks rows as the ordered scan returns them (PostgreSQL's
	// LockRows node sits above the sort; InnoDB locks index records in index
	// order), so the ORDER BY is the lock order.
	query := fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (%s) ORDER BY %s",
		col, quote(l.Dialect, table), col, strings.Join(marks, ", "), col)
	locked := make([]T, 0, len(ids))
	err := l.Query(ctx, tx, func(r *sql.Rows) error {
		var id T
		if err := r.Scan(&id); err != nil {
			return err
		}
		locked = append(locked, id)
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return locked, nil
}
