package sqldialect_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"

	"github.com/racefree/racefree/sqldialect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStringAndValidate(t *testing.T) {
	for _, c := range []struct {
		d    sqldialect.Dialect
		name string
		ok   bool
	}{
		{sqldialect.Postgres, "postgres", true},
		{sqldialect.MySQL, "mysql", true},
		{0, "Dialect(0)", false},
		{7, "Dialect(7)", false},
		{-1, "Dialect(-1)", false},
	} {
		if got := c.d.String(); got != c.name {
			t.Errorf("String of %d: %q, want %q", int(c.d), got, c.name)
		}
		err := c.d.Validate()
		if c.ok && err != nil {
			t.Errorf("%v.Validate(): %v, want nil", c.d, err)
		}
		if !c.ok && !errors.Is(err, sqldialect.ErrUnknown) {
			t.Errorf("%v.Validate(): %v, want ErrUnknown", c.d, err)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	for _, c := range []struct {
		d              sqldialect.Dialect
		third, rebound string
	}{
		{sqldialect.Postgres, "$3", "UPDATE t SET a = $1, b = $2 WHERE id = $3"},
		{sqldialect.MySQL, "?", "UPDATE t SET a = ?, b = ? WHERE id = ?"},
	} {
		if got := c.d.Placeholder(3); got != c.third {
			t.Errorf("%v.Placeholder(3) = %q, want %q", c.d, got, c.third)
		}
		if got := c.d.Rebind("UPDATE t SET a = ?, b = ? WHERE id = ?"); got != c.rebound {
			t.Errorf("%v.Rebind = %q, want %q", c.d, got, c.rebound)
		}
	}
	if got := sqldialect.Postgres.Rebind("SELECT 'é' FROM t WHERE x = ?"); got != "SELECT 'é' FROM t WHERE x = $1" {
		t.Errorf("Rebind with a multi-byte character: %q", got)
	}
}

// otherDriver is a database/sql driver Of does not know.
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, errors.New("not a real driver") }

// otherConnector opens pools of otherDriver without registering it, which a
// test run twice in one process (go test -count=2) could not do twice.
type otherConnector struct{}

func (otherConnector) Connect(context.Context) (driver.Conn, error) { return otherDriver{}.Open("") }
func (otherConnector) Driver() driver.Driver                        { return otherDriver{} }

func TestOf(t *testing.T) {
	// sql.Open connects to nothing: the addresses are never dialled.
	for _, c := range []struct {
		driver, dsn string
		want        sqldialect.Dialect
	}{
		{"pgx", "postgres://u@127.0.0.1:1/db", sqldialect.Postgres},
		{"pgx/v5", "postgres://u@127.0.0.1:1/db", sqldialect.Postgres},
		{"mysql", "u@tcp(127.0.0.1:1)/db", sqldialect.MySQL},
	} {
		db, err := sql.Open(c.driver, c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := sqldialect.Of(db); got != c.want || err != nil {
			t.Errorf("Of a %q pool: %v, %v; want %v", c.driver, got, err, c.want)
		}
		_ = db.Close()
	}
	db := sql.OpenDB(otherConnector{})
	defer db.Close()
	if got, err := sqldialect.Of(db); got != 0 || !errors.Is(err, sqldialect.ErrUnknown) {
		t.Errorf("Of an unknown driver's pool: %v, %v; want ErrUnknown", got, err)
	}
	if got, err := sqldialect.Of(nil); got != 0 || err == nil {
		t.Errorf("Of(nil): %v, %v; want an error", got, err)
	}
}
