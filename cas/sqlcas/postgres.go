package sqlcas

import (
	"context"
	"database/sql"
	"errors"

	"github.com/racefree/racefree/cas"
)

// postgres implements ops with one statement per operation.
type postgres struct {
	db                                    *sql.DB
	getSQL, createSQL, swapSQL, deleteSQL string
}

func newPostgres(db *sql.DB, table string) *postgres {
	// refused reads the row in the statement's snapshot, next to the
	// conditional UPDATE named upd: the statement returns whether upd wrote,
	// and the row as the UPDATE's snapshot saw it.
	refused := `
SELECT EXISTS (SELECT FROM upd), cur.version, cur.deleted
FROM (SELECT 1) AS one LEFT JOIN ` + table + ` AS cur ON cur.item_key = $1`
	return &postgres{
		db:     db,
		getSQL: `SELECT item_value, version FROM ` + table + ` WHERE item_key = $1 AND NOT deleted`,
		createSQL: `INSERT INTO ` + table + ` AS c (item_key, item_value, version, deleted) VALUES ($1, $2, 1, false)
ON CONFLICT (item_key) DO UPDATE SET item_value = EXCLUDED.item_value, version = c.version + 1, deleted = false
WHERE c.deleted
RETURNING version`,
		swapSQL: `WITH upd AS (UPDATE ` + table + ` SET item_value = $3, version = version + 1
	WHERE item_key = $1 AND version = $2 AND NOT deleted RETURNING 1)` + refused,
		deleteSQL: `WITH upd AS (UPDATE ` + table + ` SET item_value = '', deleted = true
	WHERE item_key = $1 AND version = $2 AND NOT deleted RETURNING 1)` + refused,
	}
}

func (p *postgres) get(ctx context.Context, key []byte) ([]byte, int64, error) {
	var value []byte
	var version int64
	err := p.db.QueryRowContext(ctx, p.getSQL, key).Scan(&value, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, cas.ErrNotFound
	}
	return value, version, err
}

func (p *postgres) create(ctx context.Context, key, value []byte) (int64, error) {
	var version int64
	err := p.db.QueryRowContext(ctx, p.createSQL, key, value).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cas.ErrExists
	}
	return version, err
}

func (p *postgres) swap(ctx context.Context, key []byte, version int64, value []byte) error {
	return p.conditional(ctx, p.swapSQL, version, key, version, value)
}

func (p *postgres) delete(ctx context.Context, key []byte, version int64) error {
	return p.conditional(ctx, p.deleteSQL, version, key, version)
}

// conditional runs a swap or delete statement until its outcome is decided.
func (p *postgres) conditional(ctx context.Context, stmt string, version int64, args ...any) error {
	for {
		var wrote bool
		var current sql.NullInt64
		var deleted sql.NullBool
		if err := p.db.QueryRowContext(ctx, stmt, args...).Scan(&wrote, &current, &deleted); err != nil {
			return err
		}
		if wrote {
			return nil
		}
		if err := outcome(current.Valid, deleted.Bool, current.Int64, version); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
