package fence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/sqldialect"
)

// DefaultTable is the fence table of a Table guard with an empty Name.
const DefaultTable = "racefree_fence"

// MaxResourceLen is the longest resource name a Table guard keeps, in bytes.
const MaxResourceLen = 255

// Table guards resources that are not one row, with a fence table of one row
// per resource: its highest token. Use it inside the transaction that writes
// the resource: Admit first, then the writes, then commit.
type Table struct {
	// Dialect is the database: sqldialect.Postgres, or sqldialect.MySQL for
	// MySQL or MariaDB (InnoDB).
	Dialect sqldialect.Dialect
	// Name is the fence table, "name" or "schema.name"; empty means
	// DefaultTable.
	Name string
}

// Schema returns the CREATE TABLE IF NOT EXISTS statement of the fence table,
// for a migration tool.
func (g Table) Schema() string {
	if g.Dialect == sqldialect.MySQL {
		return `CREATE TABLE IF NOT EXISTS ` + g.name() + ` (
	resource VARBINARY(255) NOT NULL PRIMARY KEY,
	token    BIGINT         NOT NULL
) ENGINE=InnoDB`
	}
	return `CREATE TABLE IF NOT EXISTS ` + g.name() + ` (
	resource bytea  PRIMARY KEY,
	token    bigint NOT NULL
)`
}

// EnsureSchema creates the fence table if it does not exist.
func (g Table) EnsureSchema(ctx context.Context, q Querier) error {
	if err := g.check(); err != nil {
		return err
	}
	if q == nil {
		return errors.New("fence: Table.EnsureSchema needs a non-nil Querier")
	}
	if _, err := q.ExecContext(ctx, g.Schema()); err != nil {
		return fmt.Errorf("fence: create table %s: %w", g.name(), err)
	}
	return nil
}

// Admit records token as the fence of resource if it is at least the highest
// token recorded for it, and returns a *StaleError (errors.Is ErrStaleToken)
// with that fence if not. A resource never seen is admitted.
//
// Run it in the transaction tx that writes the resource, before the writes:
// it locks the resource's fence row until tx ends, so a holder with an older
// token that comes later waits for tx, then is refused, and one that came
// earlier has either committed before tx or is refused. On a refusal roll tx
// back. Outside a transaction (a *sql.DB) Admit only records the token: it
// fences nothing else.
//
// PostgreSQL: one INSERT ... ON CONFLICT DO UPDATE ... WHERE token <= new
// RETURNING, then, only on refusal, a read of the fence for the error.
// MySQL: INSERT ... ON DUPLICATE KEY UPDATE token = GREATEST(...), then
// SELECT ... FOR UPDATE of the row the INSERT has locked.
func (g Table) Admit(ctx context.Context, tx Querier, resource string, token uint64) error {
	if err := g.check(); err != nil {
		return err
	}
	tok, err := tokenParam(token)
	switch {
	case err != nil:
		return err
	case tx == nil:
		return errors.New("fence: Table.Admit needs a non-nil Querier")
	case resource == "" || len(resource) > MaxResourceLen:
		return fmt.Errorf("fence: resource name of %d bytes: want 1 to %d", len(resource), MaxResourceLen)
	}
	fence, admitted, err := g.admit(ctx, tx, []byte(resource), tok)
	switch {
	case err != nil:
		return fmt.Errorf("fence: admit token %d for %s: %w", token, resource, err)
	case !admitted:
		return stale(resource, token, fence)
	}
	return nil
}

func (g Table) admit(ctx context.Context, tx Querier, resource []byte, tok int64) (fence int64, admitted bool, err error) {
	t := g.name()
	if g.Dialect == sqldialect.MySQL {
		_, err = tx.ExecContext(ctx, `INSERT INTO `+t+` (resource, token) VALUES (?, ?)
ON DUPLICATE KEY UPDATE token = GREATEST(token, VALUES(token))`, resource, tok)
		if err == nil {
			err = tx.QueryRowContext(ctx, `SELECT token FROM `+t+` WHERE resource = ? FOR UPDATE`, resource).Scan(&fence)
		}
		return fence, err == nil && fence <= tok, err
	}
	var got int64
	err = tx.QueryRowContext(ctx, `INSERT INTO `+t+` AS f (resource, token) VALUES ($1, $2)
ON CONFLICT (resource) DO UPDATE SET token = EXCLUDED.token WHERE f.token <= EXCLUDED.token
RETURNING token`, resource, tok).Scan(&got)
	if !errors.Is(err, sql.ErrNoRows) {
		return got, err == nil, err
	}
	// Refused: the row is locked by the INSERT, so this read is its state.
	err = tx.QueryRowContext(ctx, `SELECT token FROM `+t+` WHERE resource = $1`, resource).Scan(&fence)
	return fence, false, err
}

func (g Table) name() string {
	if g.Name == "" {
		return DefaultTable
	}
	return g.Name
}

func (g Table) check() error {
	if err := g.Dialect.Validate(); err != nil {
		return fmt.Errorf("fence: Table %s: %w", g.name(), err)
	}
	return sqlname.Table("fence: Table.Name", g.name())
}
