package sqlcas_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/sqldialect"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// databases are the two dialects with the testenv pool of each.
var databases = []struct {
	name    string
	dialect sqldialect.Dialect
	open    func(testing.TB) *sql.DB
}{
	{"PostgreSQL", sqldialect.Postgres, testenv.Postgres},
	{"MySQL", sqldialect.MySQL, testenv.MySQL},
}

// newStore returns a Store with its own pool on the test's isolated schema or
// database, with its table created.
func newStore(t testing.TB, d sqldialect.Dialect, open func(testing.TB) *sql.DB, opts ...sqlcas.Option) *sqlcas.Store {
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
		d    sqldialect.Dialect
		opts []sqlcas.Option
		want error
	}{
		{"nil db", nil, sqldialect.Postgres, nil, nil},
		{"no dialect", db, 0, nil, sqldialect.ErrUnknown},
		{"unknown dialect", db, 7, nil, sqldialect.ErrUnknown},
		{"injection in the table", db, sqldialect.MySQL, []sqlcas.Option{sqlcas.WithTable("t; DROP TABLE x")}, sqlname.ErrInvalid},
		{"empty table", db, sqldialect.Postgres, []sqlcas.Option{sqlcas.WithTable("")}, sqlname.ErrInvalid},
		{"zero value size", db, sqldialect.Postgres, []sqlcas.Option{sqlcas.WithMaxValueSize(0)}, nil},
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

// TestSwapRacingCreate races CompareAndSwap at version 1 with the Create of
// the key, the case where a refused write can be followed by a state that
// does not explain it (the key live at version 1): a swapper retries until it
// succeeds, and each refusal must say the key is missing, never a conflict.
func TestSwapRacingCreate(t *testing.T) {
	const rounds = 50
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := t.Context()
			a, b := newStore(t, db.dialect, db.open), newStore(t, db.dialect, db.open)
			refusals := 0
			for i := range rounds {
				key := "race/" + strconv.Itoa(i)
				created := make(chan error, 1)
				go func() { _, err := a.Create(ctx, key, []byte("a")); created <- err }()
				for {
					it, err := b.CompareAndSwap(ctx, key, 1, []byte("b"))
					if err == nil {
						if it.Version != 2 {
							t.Fatalf("CompareAndSwap returned version %d, want 2", it.Version)
						}
						break
					}
					if !errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrConflict) {
						t.Fatalf("CompareAndSwap at 1 racing the Create: %v, want success or ErrNotFound", err)
					}
					refusals++
				}
				if err := <-created; err != nil {
					t.Fatalf("Create: %v", err)
				}
				got, err := a.Get(ctx, key)
				if err != nil || got.Version != 2 || string(got.Value) != "b" {
					t.Fatalf("Get after the race: %+v, %v; want b at version 2", got, err)
				}
			}
			t.Logf("%d rounds, %d refusals before the Create", rounds, refusals)
		})
	}
}

// TestOneWinner makes several Stores swap the same version of one key at the
// same instant, round after round: exactly one wins each round and every
// other gets ErrConflict. On PostgreSQL the losers' UPDATEs wait for the
// winner's row lock and find the row moved after their statement's snapshot,
// the case that makes a statement run again.
func TestOneWinner(t *testing.T) {
	const swappers, rounds = 4, 30
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := t.Context()
			stores := make([]*sqlcas.Store, swappers)
			for i := range stores {
				stores[i] = newStore(t, db.dialect, db.open)
			}
			key := "one-winner"
			if _, err := stores[0].Create(ctx, key, []byte("0")); err != nil {
				t.Fatal(err)
			}
			for round := uint64(1); round <= rounds; round++ {
				errs := make(chan error, swappers)
				start := make(chan struct{})
				for _, s := range stores {
					go func() {
						<-start
						_, err := s.CompareAndSwap(ctx, key, round, []byte(strconv.FormatUint(round, 10)))
						errs <- err
					}()
				}
				close(start)
				wins := 0
				for range swappers {
					switch err := <-errs; {
					case err == nil:
						wins++
					case !errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound):
						t.Fatalf("round %d: losing swap: %v, want ErrConflict", round, err)
					}
				}
				if wins != 1 {
					t.Fatalf("round %d: %d swaps of version %d won, want exactly 1", round, wins, round)
				}
			}
			got, err := stores[0].Get(ctx, key)
			if err != nil || got.Version != rounds+1 {
				t.Fatalf("Get: %+v, %v; want version %d", got, err, rounds+1)
			}
		})
	}
}
