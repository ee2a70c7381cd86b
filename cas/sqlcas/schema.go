package sqlcas

import (
	"context"
	"fmt"

	"github.com/racefree/racefree/sqldialect"
)

// Schema returns the CREATE TABLE IF NOT EXISTS statement of the Store's
// table, for a migration tool.
func (s *Store) Schema() string {
	if s.dialect == sqldialect.MySQL {
		return `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	item_key   VARBINARY(512) NOT NULL PRIMARY KEY,
	item_value LONGBLOB       NOT NULL,
	version    BIGINT         NOT NULL,
	deleted    BOOLEAN        NOT NULL DEFAULT FALSE
) ENGINE=InnoDB`
	}
	return `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	item_key   bytea   PRIMARY KEY,
	item_value bytea   NOT NULL,
	version    bigint  NOT NULL,
	deleted    boolean NOT NULL DEFAULT false
)`
}

// EnsureSchema creates the Store's table if it does not exist. It needs the
// privilege to create tables; where the application's user lacks it, run
// Schema in a migration instead.
func (s *Store) EnsureSchema(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.Schema()); err != nil {
		return fmt.Errorf("sqlcas: create table %s: %w", s.table, err)
	}
	return nil
}
