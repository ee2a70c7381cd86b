package sqlcas

import (
	"context"
	"database/sql"
	"errors"

	"github.com/go-sql-driver/mysql"
	"github.com/racefree/racefree/cas"
)

// erDupEntry is MySQL's error number for a duplicate key (ER_DUP_ENTRY).
const erDupEntry = 1062

// mysqlOps implements ops with a conditional statement judged by its
// affected rows, and a read only when it wrote nothing.
type mysqlOps struct {
	db                                                       *sql.DB
	getSQL, insertSQL, reviveSQL, swapSQL, deleteSQL, rowSQL string
}

func newMySQL(db *sql.DB, table string) *mysqlOps {
	return &mysqlOps{
		db:        db,
		getSQL:    `SELECT item_value, version FROM ` + table + ` WHERE item_key = ? AND NOT deleted`,
		insertSQL: `INSERT INTO ` + table + ` (item_key, item_value, version, deleted) VALUES (?, ?, 1, FALSE)`,
		reviveSQL: `UPDATE ` + table + ` SET item_value = ?, version = LAST_INSERT_ID(version + 1), deleted = FALSE
WHERE item_key = ? AND deleted`,
		swapSQL: `UPDATE ` + table + ` SET item_value = ?, version = version + 1
WHERE item_key = ? AND version = ? AND NOT deleted`,
		deleteSQL: `UPDATE ` + table + ` SET item_value = '', deleted = TRUE
WHERE item_key = ? AND version = ? AND NOT deleted`,
		rowSQL: `SELECT version, deleted FROM ` + table + ` WHERE item_key = ?`,
	}
}

func (m *mysqlOps) get(ctx context.Context, key []byte) ([]byte, int64, error) {
	var value []byte
	var version int64
	err := m.db.QueryRowContext(ctx, m.getSQL, key).Scan(&value, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, cas.ErrNotFound
	}
	return value, version, err
}

// create inserts version 1; when the key has a row, it revives the row if it
// is a tombstone, and refuses with ErrExists if not. Rows are never removed,
// so a duplicate key followed by no tombstone means a live key.
func (m *mysqlOps) create(ctx context.Context, key, value []byte) (int64, error) {
	_, err := m.db.ExecContext(ctx, m.insertSQL, key, value)
	var myErr *mysql.MySQLError
	switch {
	case err == nil:
		return 1, nil
	case !errors.As(err, &myErr) || myErr.Number != erDupEntry:
		return 0, err
	}
	res, err := m.db.ExecContext(ctx, m.reviveSQL, value, key)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, cas.ErrExists
	}
	return res.LastInsertId()
}

func (m *mysqlOps) swap(ctx context.Context, key []byte, version int64, value []byte) error {
	return m.conditional(ctx, key, version, m.swapSQL, value, key, version)
}

func (m *mysqlOps) delete(ctx context.Context, key []byte, version int64) error {
	return m.conditional(ctx, key, version, m.deleteSQL, key, version)
}

// conditional runs a swap or delete UPDATE; when it changed no row, it reads
// the row to tell ErrNotFound from ErrConflict, and runs again in the one case
// the read cannot explain the refusal (see the package documentation).
func (m *mysqlOps) conditional(ctx context.Context, key []byte, version int64, stmt string, args ...any) error {
	for {
		res, err := m.db.ExecContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		var current int64
		var deleted bool
		err = m.db.QueryRowContext(ctx, m.rowSQL, key).Scan(&current, &deleted)
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := outcome(found, deleted, current, version); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
