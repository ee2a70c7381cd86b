// Package sqldialect names the SQL databases racefree's SQL packages
// (sqllock, cas/sqlcas, occ, fence) speak: one Dialect value serves them all.
//
// Postgres is PostgreSQL through pgx: the database/sql driver "pgx" of
// github.com/jackc/pgx/v5/stdlib. MySQL is the MySQL family through
// github.com/go-sql-driver/mysql: racefree is tested on MariaDB 10.6 and
// later. cas/sqlcas, occ and fence also run on MySQL 8; sqllock needs MariaDB
// (MySQL 8 lacks sequences, LOCK IN SHARE MODE NOWAIT / SKIP LOCKED and the
// WAIT n clause), and each package's documentation says what differs.
//
// The package imports neither driver: Of recognises them by their type.
package sqldialect

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Dialect is the SQL flavour of a database. The zero value is no dialect:
// every package refuses it (see Validate).
type Dialect int

const (
	// Postgres is PostgreSQL through pgx (database/sql driver "pgx" of
	// github.com/jackc/pgx/v5/stdlib), with $1, $2, ... placeholders.
	Postgres Dialect = iota + 1
	// MySQL is the MySQL family through github.com/go-sql-driver/mysql, with
	// ? placeholders: MariaDB 10.6 or later is what racefree is tested on;
	// what MySQL 8 lacks is said per package (sqllock needs MariaDB).
	MySQL
)

// ErrUnknown is wrapped by the error of Validate for a value that is not a
// Dialect, and by the error of Of for a driver it does not know.
var ErrUnknown = errors.New("sqldialect: unknown dialect")

// String returns "postgres" or "mysql", or "Dialect(n)" for another value.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Validate returns nil for Postgres and MySQL, and an error wrapping
// ErrUnknown for any other value, the zero value included.
func (d Dialect) Validate() error {
	switch d {
	case Postgres, MySQL:
		return nil
	case 0:
		return fmt.Errorf("%w: none set (the zero Dialect); use sqldialect.Postgres or sqldialect.MySQL", ErrUnknown)
	}
	return fmt.Errorf("%w: %v; use sqldialect.Postgres or sqldialect.MySQL", ErrUnknown, d)
}

// Placeholder returns the n-th (1-based) bind parameter of a statement: "$n"
// on Postgres, "?" on MySQL.
func (d Dialect) Placeholder(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Rebind returns query, written with ? placeholders, in the dialect's
// placeholders: on Postgres each ? becomes $1, $2, ... in order; on MySQL
// query is returned as it is. Every ? counts, also one in a string literal, a
// quoted identifier or a comment (and PostgreSQL's jsonb ? operators): write
// such text in the dialect's own placeholders instead.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(d.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The drivers Of recognises, by package path and type name.
const (
	pgxDriver   = "github.com/jackc/pgx/v5/stdlib.Driver"
	mysqlDriver = "github.com/go-sql-driver/mysql.MySQLDriver"
)

// Of returns the dialect of db from its driver: Postgres for pgx's database/sql
// driver, MySQL for go-sql-driver/mysql, an error wrapping ErrUnknown for any
// other driver. It does no I/O.
func Of(db *sql.DB) (Dialect, error) {
	if db == nil {
		return 0, errors.New("sqldialect: Of needs a non-nil *sql.DB")
	}
	t := reflect.TypeOf(db.Driver())
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		switch t.PkgPath() + "." + t.Name() {
		case pgxDriver:
			return Postgres, nil
		case mysqlDriver:
			return MySQL, nil
		}
	}
	return 0, fmt.Errorf("%w: no dialect for the driver %T (want pgx's %s or %s)", ErrUnknown, db.Driver(), pgxDriver, mysqlDriver)
}
