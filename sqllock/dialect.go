package sqllock

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/sqldialect"
)

// What sqllock does differently per sqldialect.Dialect: sqldialect.Postgres
// is PostgreSQL 12 or later through pgx; sqldialect.MySQL must be MariaDB
// 10.6 or later (MySQL 8 lacks sequences, which give the LeaseLocker its
// fencing tokens, LOCK IN SHARE MODE NOWAIT / SKIP LOCKED and the WAIT n
// clause; see the package documentation).

// checkDialect refuses a value that is not a sqldialect.Dialect.
func checkDialect(what string, d sqldialect.Dialect) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidArgument, what, err)
	}
	return nil
}

// checkPool refuses a nil *sql.DB or a Dialect checkDialect refuses.
func checkPool(what string, db *sql.DB, d sqldialect.Dialect) error {
	if db == nil {
		return fmt.Errorf("%w: %s needs a *sql.DB", ErrInvalidArgument, what)
	}
	return checkDialect(what, d)
}

// dialectName names the database in the Lockers' properties: "postgres" or
// "mariadb".
func dialectName(d sqldialect.Dialect) string {
	if d == sqldialect.MySQL {
		return "mariadb"
	}
	return d.String()
}

// quote quotes each part of a checked identifier.
func quote(d sqldialect.Dialect, ident string) string {
	q := `"`
	if d == sqldialect.MySQL {
		q = "`"
	}
	parts := strings.Split(ident, ".")
	for i, p := range parts {
		parts[i] = q + p + q
	}
	return strings.Join(parts, ".")
}

// lockClause is the locking clause RowLock appends to a SELECT.
func lockClause(d sqldialect.Dialect, m Mode, w WaitPolicy) string {
	if d == sqldialect.Postgres {
		return pgLockClause(m, w)
	}
	return mariadbLockClause(m, w)
}

func pgLockClause(m Mode, w WaitPolicy) string {
	clause := "FOR UPDATE"
	if m == Shared {
		clause = "FOR SHARE"
	}
	switch w {
	case NoWait:
		clause += " NOWAIT"
	case SkipLocked:
		clause += " SKIP LOCKED"
	}
	// WaitAtMost is a lock_timeout set around the statement, see rowlock.go.
	return clause
}

func mariadbLockClause(m Mode, w WaitPolicy) string {
	clause := "FOR UPDATE"
	if m == Shared {
		clause = "LOCK IN SHARE MODE"
	}
	switch {
	case w == NoWait:
		clause += " NOWAIT"
	case w == SkipLocked:
		clause += " SKIP LOCKED"
	case w > 0:
		// MariaDB truncates WAIT to whole seconds (WAIT 0.5 is NOWAIT): round up.
		clause += " WAIT " + strconv.FormatInt(w.seconds(), 10)
	}
	return clause
}

// maxIdentPart is the longest part of a table or column name sqllock takes:
// it leaves room for the "_token" the lease table's sequence adds to its name.
const maxIdentPart = 48

// checkTable accepts a table name, optionally schema-qualified
// ("schema.table"), whose parts are plain identifiers of at most 48 bytes.
func checkTable(name string) error {
	return checkIdent(sqlname.Table("table", name), name)
}

// checkColumn accepts a column name: a plain identifier of at most 48 bytes.
func checkColumn(name string) error {
	return checkIdent(sqlname.Column("column", name), name)
}

func checkIdent(syntax error, name string) error {
	if syntax != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, syntax)
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > maxIdentPart {
			return fmt.Errorf("%w: %q has a part longer than %d bytes", ErrInvalidArgument, name, maxIdentPart)
		}
	}
	return nil
}
