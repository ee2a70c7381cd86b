package sqllock

import (
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect is the SQL flavour of a database: Postgres or MariaDB. It decides
// the locking clauses, placeholders, error codes and the statements of the
// Lockers. The set of dialects is closed.
type Dialect interface {
	// Name is "postgres" or "mariadb".
	Name() string

	placeholder(n int) string // the n-th (1-based) bind parameter
	quote(ident string) string
	lockClause(mode Mode, wait WaitPolicy) string
}

// Postgres is the dialect of PostgreSQL (12 or later) through pgx, either the
// database/sql driver "pgx" (github.com/jackc/pgx/v5/stdlib) or pgx natively.
var Postgres Dialect = postgres{}

// MariaDB is the dialect of MariaDB 10.6 or later through
// github.com/go-sql-driver/mysql. MySQL 8 is not supported: it lacks sequences
// (the lease Locker's fencing tokens), LOCK IN SHARE MODE NOWAIT / SKIP LOCKED
// and the WAIT n clause (see the package documentation).
var MariaDB Dialect = mariadb{}

// DialectOf returns the dialect of db from its driver: Postgres for pgx's
// database/sql driver, MariaDB for go-sql-driver/mysql. It does no I/O.
func DialectOf(db *sql.DB) (Dialect, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil *sql.DB", ErrInvalidArgument)
	}
	switch db.Driver().(type) {
	case *stdlib.Driver:
		return Postgres, nil
	case *mysql.MySQLDriver, mysql.MySQLDriver:
		return MariaDB, nil
	}
	return nil, fmt.Errorf("%w: no dialect for the driver %T", ErrInvalidArgument, db.Driver())
}

type postgres struct{}

func (postgres) Name() string              { return "postgres" }
func (postgres) placeholder(n int) string  { return "$" + strconv.Itoa(n) }
func (postgres) quote(ident string) string { return quoteParts(ident, `"`) }
func (postgres) lockClause(m Mode, w WaitPolicy) string {
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

type mariadb struct{}

func (mariadb) Name() string              { return "mariadb" }
func (mariadb) placeholder(int) string    { return "?" }
func (mariadb) quote(ident string) string { return quoteParts(ident, "`") }
func (mariadb) lockClause(m Mode, w WaitPolicy) string {
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

// identPart is one part of a table name: a plain, unquoted SQL identifier.
var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// checkIdent accepts a table or column name, optionally schema-qualified
// ("schema.table"), whose parts are plain identifiers of at most 48 bytes.
func checkIdent(ident string) error {
	parts := strings.Split(ident, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%w: identifier %q has more than two parts", ErrInvalidArgument, ident)
	}
	for _, p := range parts {
		if !identPart.MatchString(p) {
			return fmt.Errorf("%w: %q is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 48 bytes per part)", ErrInvalidArgument, ident)
		}
	}
	return nil
}

// quoteParts quotes each part of a checked identifier.
func quoteParts(ident, q string) string {
	parts := strings.Split(ident, ".")
	for i, p := range parts {
		parts[i] = q + p + q
	}
	return strings.Join(parts, ".")
}
