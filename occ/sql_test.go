package occ_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/internal/fakesql"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/occ"
	"github.com/racefree/racefree/sqldialect"
)

// sqlDB is one database the row helpers are tested on.
type sqlDB struct {
	name    string
	dialect sqldialect.Dialect
	open    func(testing.TB) *sql.DB
	// set is the SET list that stores its one argument in balance.
	set string
}

var sqlDBs = []sqlDB{
	{"PostgreSQL", sqldialect.Postgres, testenv.Postgres, "balance = $1"},
	{"MySQL", sqldialect.MySQL, testenv.MySQL, "balance = ?"},
}

// accounts creates the test's accounts table with rows id 1..n, balance 0,
// version 1, and returns a pool and the Table.
func accounts(t testing.TB, d sqlDB, n int) (*sql.DB, occ.Table) {
	t.Helper()
	db := d.open(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, version BIGINT NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	for id := 1; id <= n; id++ {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO accounts VALUES (%d, 0, 1)`, id)); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	return db, occ.Table{Dialect: d.dialect, Name: "accounts"}
}

// readAccount returns the balance and version of account id.
func readAccount(ctx context.Context, t testing.TB, q occ.Querier, id int) (balance, version int64) {
	t.Helper()
	if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT balance, version FROM accounts WHERE id = %d`, id)).Scan(&balance, &version); err != nil {
		t.Fatalf("read account %d: %v", id, err)
	}
	return balance, version
}

func TestTableUpdate(t *testing.T) {
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db, table := accounts(t, d, 2)

			next, err := table.Update(ctx, db, 1, 1, d.set, 10)
			if err != nil || next != 2 {
				t.Fatalf("Update at the current version: %d, %v; want version 2", next, err)
			}
			if b, v := readAccount(ctx, t, db, 1); b != 10 || v != 2 {
				t.Fatalf("after Update: balance %d version %d, want 10 and 2", b, v)
			}

			for _, stale := range []int64{1, 3, 0, -1} {
				_, err = table.Update(ctx, db, 1, stale, d.set, 99)
				if !errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
					t.Fatalf("Update at version %d of a row at 2: %v, want ErrConflict only", stale, err)
				}
			}
			if b, v := readAccount(ctx, t, db, 1); b != 10 || v != 2 {
				t.Fatalf("after refused Updates: balance %d version %d, want 10 and 2", b, v)
			}

			_, err = table.Update(ctx, db, 3, 1, d.set, 99)
			if !errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrConflict) {
				t.Fatalf("Update of a missing row: %v, want ErrNotFound only", err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM accounts WHERE id = 2`); err != nil {
				t.Fatal(err)
			}
			_, err = table.Update(ctx, db, 2, 1, d.set, 99)
			if !errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrConflict) {
				t.Fatalf("Update of a row deleted after it was read: %v, want ErrNotFound only", err)
			}

			// The same value again still moves the version (MySQL counts
			// changed rows, not matched ones).
			if next, err = table.Update(ctx, db, 1, 2, d.set, 10); err != nil || next != 3 {
				t.Fatalf("Update to the same balance: %d, %v; want version 3", next, err)
			}
		})
	}
}

// TestTableUpdateInTransaction checks that an Update inside a transaction
// that read the row before another writer committed reports ErrConflict
// (PostgreSQL at READ COMMITTED, MySQL at its default REPEATABLE READ), and
// that the transaction's own Update works.
func TestTableUpdateInTransaction(t *testing.T) {
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db, table := accounts(t, d, 1)
			other := d.open(t)

			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			_, version := readAccount(ctx, t, tx, 1)
			if _, err := table.Update(ctx, other, 1, version, d.set, 5); err != nil {
				t.Fatalf("concurrent Update: %v", err)
			}
			_, err = table.Update(ctx, tx, 1, version, d.set, 7)
			if !errors.Is(err, cas.ErrConflict) {
				t.Fatalf("Update in a transaction that read before a concurrent commit: %v, want ErrConflict", err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}

			tx, err = db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, version = readAccount(ctx, t, tx, 1)
			if _, err := table.Update(ctx, tx, 1, version, d.set, 7); err != nil {
				t.Fatalf("Update in a fresh transaction: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if b, v := readAccount(ctx, t, other, 1); b != 7 || v != 3 {
				t.Fatalf("after commit: balance %d version %d, want 7 and 3", b, v)
			}
		})
	}
}

// TestRetryNoLostUpdate runs N updaters, each with its own pool as separate
// processes would, incrementing one balance by read-compute-Update under
// Retry: every increment must land.
func TestRetryNoLostUpdate(t *testing.T) {
	const updaters, increments = 6, 10
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db, table := accounts(t, d, 1)
			var (
				wg        sync.WaitGroup
				mu        sync.Mutex
				conflicts int
				errs      []error
			)
			for range updaters {
				pool := d.open(t)
				wg.Go(func() {
					for range increments {
						st, err := occ.Retry(ctx, "account 1", func(ctx context.Context) error {
							var balance, version int64
							if err := pool.QueryRowContext(ctx, `SELECT balance, version FROM accounts WHERE id = 1`).Scan(&balance, &version); err != nil {
								return err
							}
							_, err := table.Update(ctx, pool, 1, version, d.set, balance+1)
							return err
						}, occ.WithMaxAttempts(1000))
						mu.Lock()
						conflicts += st.Conflicts
						if err != nil {
							errs = append(errs, err)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("updaters failed: %v", err)
			}
			b, v := readAccount(ctx, t, db, 1)
			if b != updaters*increments || v != 1+updaters*increments {
				t.Fatalf("balance %d version %d, want %d and %d: an update was lost", b, v, updaters*increments, 1+updaters*increments)
			}
			t.Logf("%d increments by %d updaters: %d conflicts retried", updaters*increments, updaters, conflicts)
		})
	}
}

func TestRetry(t *testing.T) {
	ctx := t.Context()
	boom := errors.New("boom")
	calls := 0
	st, err := occ.Retry(ctx, "row", func(context.Context) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("lost: %w", cas.ErrConflict)
		}
		return nil
	}, noWait)
	if err != nil || calls != 3 || st.Attempts != 3 || st.Conflicts != 2 {
		t.Fatalf("Retry after two conflicts: %v, %d calls, %+v; want success at the third", err, calls, st)
	}

	for _, stop := range []error{cas.ErrNotFound, boom, context.Canceled} {
		calls = 0
		st, err = occ.Retry(ctx, "row", func(context.Context) error { calls++; return fmt.Errorf("wrapped: %w", stop) }, noWait)
		if !errors.Is(err, stop) || calls != 1 || st.Attempts != 1 || errors.Is(err, occ.ErrTooManyConflicts) {
			t.Fatalf("Retry of a function failing with %v: %v after %d calls; want it at once", stop, err, calls)
		}
	}

	st, err = occ.Retry(ctx, "row 7", func(context.Context) error { return cas.ErrConflict }, noWait, occ.WithMaxAttempts(4))
	if !errors.Is(err, occ.ErrTooManyConflicts) || !errors.Is(err, cas.ErrConflict) || st.Attempts != 4 {
		t.Fatalf("Retry of a function that always conflicts: %v, %+v; want ErrTooManyConflicts after 4", err, st)
	}
	if _, err := occ.Retry(ctx, "row", nil); err == nil {
		t.Fatal("Retry of a nil function: no error")
	}
	if _, err := occ.Retry(ctx, "row", func(context.Context) error { return nil }, occ.WithMaxAttempts(0)); !errors.Is(err, occ.ErrInvalidOption) {
		t.Fatalf("Retry with 0 attempts: %v, want ErrInvalidOption", err)
	}
}

func TestTableUpdateRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	db := &sql.DB{} // never used: every case fails before I/O
	good := occ.Table{Dialect: sqldialect.Postgres, Name: "accounts"}
	cases := []struct {
		name  string
		table occ.Table
		q     occ.Querier
		set   string
		want  error
	}{
		{"injection in the name", occ.Table{Dialect: sqldialect.Postgres, Name: "a; DROP TABLE b"}, db, "x = $1", sqlname.ErrInvalid},
		{"empty name", occ.Table{Dialect: sqldialect.MySQL}, db, "x = ?", sqlname.ErrInvalid},
		{"bad id column", occ.Table{Dialect: sqldialect.MySQL, Name: "t", IDColumn: "id`"}, db, "x = ?", sqlname.ErrInvalid},
		{"bad version column", occ.Table{Dialect: sqldialect.MySQL, Name: "t", VersionColumn: "v v"}, db, "x = ?", sqlname.ErrInvalid},
		{"no dialect", occ.Table{Name: "t"}, db, "x = ?", sqldialect.ErrUnknown},
		{"unknown dialect", occ.Table{Dialect: 7, Name: "t"}, db, "x = ?", sqldialect.ErrUnknown},
		{"empty SET", good, db, "", nil},
		{"nil Querier", good, nil, "x = $1", nil},
	}
	for _, c := range cases {
		_, err := c.table.Update(ctx, c.q, 1, 1, c.set, 1)
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("Update with %s: %v, want an error (%v)", c.name, err, c.want)
		}
	}
}

// TestTableUpdateWriteSkipped: when every round finds the row at the
// expected version yet writes nothing (a trigger, rule or row-level security
// policy skipping the write), Update stops after a few rounds with
// ErrWriteSkipped instead of running again until ctx ends. The database is
// a fake that answers every round so; one undecided round followed by a
// decided one (a real race) still succeeds.
func TestTableUpdateWriteSkipped(t *testing.T) {
	for _, c := range []struct {
		name  string
		table occ.Table
		set   string
		fake  func(undecided int) *fakesql.DB
	}{
		{"PostgreSQL", occ.Table{Dialect: sqldialect.Postgres, Name: "accounts"}, "balance = $1", func(undecided int) *fakesql.DB {
			n := 0
			return &fakesql.DB{Query: func(string) []driver.Value {
				if n++; n <= undecided {
					return []driver.Value{nil, int64(5)} // nothing written, the row at version 5
				}
				return []driver.Value{int64(6), int64(6)}
			}}
		}},
		{"MySQL", occ.Table{Dialect: sqldialect.MySQL, Name: "accounts"}, "balance = ?", func(undecided int) *fakesql.DB {
			n := 0
			return &fakesql.DB{
				Exec: func(string) int64 {
					if n++; n <= undecided {
						return 0
					}
					return 1
				},
				Query: func(string) []driver.Value { return []driver.Value{int64(5)} },
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			fake := c.fake(1 << 30)
			_, err := c.table.Update(ctx, fake.Open(t), 1, 5, c.set, 10)
			if !errors.Is(err, occ.ErrWriteSkipped) || errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
				t.Fatalf("Update that the database never writes: %v after %d statements, want ErrWriteSkipped", err, fake.Count())
			}
			if n := fake.Count(); n < 2 || n > 64 {
				t.Fatalf("Update ran %d statements before giving up, want a few rounds", n)
			}
			t.Log(err)

			fake = c.fake(1)
			if next, err := c.table.Update(ctx, fake.Open(t), 1, 5, c.set, 10); err != nil || next != 6 {
				t.Fatalf("Update decided on its second round: %d, %v; want version 6", next, err)
			}
		})
	}
}

// TestTableUpdateSkippedByTrigger: on PostgreSQL a BEFORE UPDATE trigger
// that returns NULL skips every write; Update reports ErrWriteSkipped and
// the row is unchanged.
func TestTableUpdateSkippedByTrigger(t *testing.T) {
	d := sqlDBs[0]
	db, table := accounts(t, d, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	testenv.SkipUpdates(t, db, "accounts")
	_, err := table.Update(ctx, db, 1, 1, d.set, 10)
	if !errors.Is(err, occ.ErrWriteSkipped) || errors.Is(err, cas.ErrConflict) {
		t.Fatalf("Update that a trigger skips: %v, want ErrWriteSkipped", err)
	}
	t.Log(err)
	if b, v := readAccount(ctx, t, db, 1); b != 0 || v != 1 {
		t.Fatalf("after a skipped Update: balance %d version %d, want 0 and 1", b, v)
	}
}
