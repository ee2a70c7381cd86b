package sqlcas_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// databases are the two dialects with the testenv pool of each.
var databases = []struct {
	name    string
	dialect sqlcas.Dialect
	open    func(testing.TB) *sql.DB
}{
	{"PostgreSQL", sqlcas.Postgres, testenv.Postgres},
	{"MySQL", sqlcas.MySQL, testenv.MySQL},
}

// newStore returns a Store with its own pool on the test's isolated schema or
// database, with its table created.
func newStore(t testing.TB, d sqlcas.Dialect, open func(testing.TB) *sql.DB, opts ...sqlcas.Option) *sqlcas.Store {
	t.Helper()
	s, err := sqlcas.New(open(t), d, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.EnsureSchema(context.Background()); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			castest.Run(t, castest.Harness{
				NewStore: func(t *testing.T) cas.Store { return newStore(t, db.dialect, db.open) },
			})
		})
	}
}

// TestOwnTable checks that WithTable puts the items in the named table and
// that two tables of one database are independent.
func TestOwnTable(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := t.Context()
			a := newStore(t, db.dialect, db.open)
			b := newStore(t, db.dialect, db.open, sqlcas.WithTable("other_items"))
			if _, err := a.Create(ctx, "k", []byte("in a")); err != nil {
				t.Fatalf("Create in the default table: %v", err)
			}
			if _, err := b.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
				t.Fatalf("Get from another table: %v, want ErrNotFound", err)
			}
			it, err := b.Create(ctx, "k", []byte("in b"))
			if err != nil || it.Version != 1 {
				t.Fatalf("Create in another table: %v, %v; want version 1", it, err)
			}
		})
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	db := &sql.DB{}
	cases := []struct {
		name string
		db   *sql.DB
		d    sqlcas.Dialect
		opts []sqlcas.Option
		want error
	}{
		{"nil db", nil, sqlcas.Postgres, nil, nil},
		{"no dialect", db, 0, nil, nil},
		{"unknown dialect", db, 7, nil, nil},
		{"injection in the table", db, sqlcas.MySQL, []sqlcas.Option{sqlcas.WithTable("t; DROP TABLE x")}, sqlname.ErrInvalid},
		{"empty table", db, sqlcas.Postgres, []sqlcas.Option{sqlcas.WithTable("")}, sqlname.ErrInvalid},
		{"zero value size", db, sqlcas.Postgres, []sqlcas.Option{sqlcas.WithMaxValueSize(0)}, nil},
	}
	for _, c := range cases {
		s, err := sqlcas.New(c.db, c.d, c.opts...)
		if err == nil || s != nil {
			t.Errorf("New with %s: got %v, %v; want an error", c.name, s, err)
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("New with %s: %v, want %v", c.name, err, c.want)
		}
	}
}
