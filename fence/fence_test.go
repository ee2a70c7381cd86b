package fence_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/fence"
	"github.com/racefree/racefree/internal/fakesql"
	"github.com/racefree/racefree/internal/sqlname"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sqlDB is one database the guards are tested on.
type sqlDB struct {
	name    string
	dialect sqldialect.Dialect
	open    func(testing.TB) *sql.DB
	set     string // stores its one argument in body
	read    string // reads body by id
}

var sqlDBs = []sqlDB{
	{"PostgreSQL", sqldialect.Postgres, testenv.Postgres, "body = $1", "SELECT body FROM docs WHERE id = $1"},
	{"MySQL", sqldialect.MySQL, testenv.MySQL, "body = ?", "SELECT body FROM docs WHERE id = ?"},
}

// docs creates the test's docs table with row id 1, body "", fence 0.
func docs(t testing.TB, d sqlDB) (*sql.DB, fence.Row) {
	t.Helper()
	db := d.open(t)
	for _, stmt := range []string{
		`CREATE TABLE docs (id BIGINT PRIMARY KEY, body VARCHAR(100) NOT NULL, fence BIGINT NOT NULL DEFAULT 0)`,
		`INSERT INTO docs (id, body) VALUES (1, '')`,
	} {
		if _, err := db.ExecContext(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return db, fence.Row{Dialect: d.dialect, Table: "docs"}
}

func body(t testing.TB, d sqlDB, db *sql.DB) string {
	t.Helper()
	var b string
	if err := db.QueryRowContext(context.Background(), d.read, 1).Scan(&b); err != nil {
		t.Fatalf("read doc: %v", err)
	}
	return b
}

// wantStale fails t unless err is a *StaleError for token that met fence.
func wantStale(t *testing.T, what string, err error, token, fenceSeen uint64) {
	t.Helper()
	var se *fence.StaleError
	if !errors.Is(err, fence.ErrStaleToken) || !errors.As(err, &se) || se.Token != token || se.Fence != fenceSeen {
		t.Fatalf("%s: %v, want a StaleError for token %d at fence %d", what, err, token, fenceSeen)
	}
}

func TestRowUpdate(t *testing.T) {
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db, guard := docs(t, d)
			if err := guard.Update(ctx, db, 1, 5, d.set, "five"); err != nil {
				t.Fatalf("Update with token 5 over fence 0: %v", err)
			}
			// The same token and value again: admitted though nothing changes.
			if err := guard.Update(ctx, db, 1, 5, d.set, "five"); err != nil {
				t.Fatalf("Update with the same token and value: %v", err)
			}
			wantStale(t, "Update with token 4 over fence 5", guard.Update(ctx, db, 1, 4, d.set, "four"), 4, 5)
			if b := body(t, d, db); b != "five" {
				t.Fatalf("body %q after a refused write, want five", b)
			}
			if err := guard.Update(ctx, db, 1, 6, d.set, "six"); err != nil {
				t.Fatalf("Update with token 6: %v", err)
			}
			wantStale(t, "Update with token 5 over fence 6", guard.Update(ctx, db, 1, 5, d.set, "five"), 5, 6)
			if err := guard.Update(ctx, db, 2, 9, d.set, "x"); !errors.Is(err, fence.ErrNotFound) || errors.Is(err, fence.ErrStaleToken) {
				t.Fatalf("Update of a missing row: %v, want ErrNotFound", err)
			}
			if err := guard.Update(ctx, db, 1, math.MaxInt64+1, d.set, "x"); !errors.Is(err, fence.ErrTokenRange) {
				t.Fatalf("Update with a token over MaxInt64: %v, want ErrTokenRange", err)
			}
			if b := body(t, d, db); b != "six" {
				t.Fatalf("body %q, want six", b)
			}
		})
	}
}

func TestTableAdmit(t *testing.T) {
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db := d.open(t)
			guard := fence.Table{Dialect: d.dialect}
			if err := guard.EnsureSchema(ctx, db); err != nil {
				t.Fatal(err)
			}
			inTx := func(db *sql.DB, token uint64) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := guard.Admit(ctx, tx, "report", token); err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			}
			for _, token := range []uint64{5, 5, 7} {
				if err := inTx(db, token); err != nil {
					t.Fatalf("Admit token %d: %v", token, err)
				}
			}
			wantStale(t, "Admit token 6 after 7", inTx(db, 6), 6, 7)
			if err := inTx(db, math.MaxInt64+1); !errors.Is(err, fence.ErrTokenRange) {
				t.Fatalf("Admit a token over MaxInt64: %v, want ErrTokenRange", err)
			}

			// A newer holder's open transaction makes an older holder wait,
			// then refuses it.
			newer, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := guard.Admit(ctx, newer, "report", 9); err != nil {
				t.Fatalf("Admit token 9: %v", err)
			}
			older, other := make(chan error, 1), d.open(t)
			go func() { older <- inTx(other, 8) }()
			select {
			case err := <-older:
				t.Fatalf("Admit of token 8 returned %v while token 9's transaction holds the fence", err)
			case <-time.After(200 * time.Millisecond):
			}
			if err := newer.Commit(); err != nil {
				t.Fatal(err)
			}
			wantStale(t, "Admit token 8 once token 9 committed", <-older, 8, 9)
		})
	}
}

// TestPausedHolder is the case fencing exists for: holder A's lease expires
// while A is paused, B acquires the lock and writes, and A's late write,
// with the older token, is refused, so B's data survives.
func TestPausedHolder(t *testing.T) {
	const ttl = 100 * time.Millisecond
	for _, d := range sqlDBs {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db, row := docs(t, d)
			table := fence.Table{Dialect: d.dialect}
			if err := table.EnsureSchema(ctx, db); err != nil {
				t.Fatal(err)
			}
			locker := lock.NewMemory(lock.WithTTL(ttl), lock.WithoutAutoRefresh())

			a, err := locker.Acquire(ctx, "doc-1")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * ttl) // A pauses past its TTL
			b, err := locker.Acquire(ctx, "doc-1")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = b.Release(ctx) }()
			if b.Token() <= a.Token() {
				t.Fatalf("token of B %d is not above A's %d", b.Token(), a.Token())
			}
			if err := row.Update(ctx, db, 1, b.Token(), d.set, "by B"); err != nil {
				t.Fatalf("B's write: %v", err)
			}
			if err := admitAndWrite(ctx, db, table, d, b.Token(), "by B"); err != nil {
				t.Fatalf("B's write under the fence table: %v", err)
			}

			// A resumes and writes without checking its lease first.
			wantStale(t, "A's late write", row.Update(ctx, db, 1, a.Token(), d.set, "by A"), a.Token(), b.Token())
			wantStale(t, "A's late write under the fence table", admitAndWrite(ctx, db, table, d, a.Token(), "by A"), a.Token(), b.Token())
			if got := body(t, d, db); got != "by B" {
				t.Fatalf("body %q: B's data was overwritten", got)
			}
			if a.Err() == nil {
				t.Fatal("A's lease still reports itself held after its TTL")
			}
		})
	}
}

// admitAndWrite is a writer under a fence table: Admit, write, commit.
func admitAndWrite(ctx context.Context, db *sql.DB, g fence.Table, d sqlDB, token uint64, text string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := g.Admit(ctx, tx, "doc-1", token); err != nil {
		return err
	}
	upd := "UPDATE docs SET " + d.set + " WHERE id = 1"
	if _, err := tx.ExecContext(ctx, upd, text); err != nil {
		return err
	}
	return tx.Commit()
}

func TestRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	db := &sql.DB{} // never used: every case fails before I/O
	rows := []struct {
		name string
		g    fence.Row
		q    fence.Querier
		set  string
		want error
	}{
		{"injection in the table", fence.Row{Dialect: sqldialect.Postgres, Table: "t;"}, db, "a = $1", sqlname.ErrInvalid},
		{"bad fence column", fence.Row{Dialect: sqldialect.MySQL, Table: "t", FenceColumn: "f-1"}, db, "a = ?", sqlname.ErrInvalid},
		{"no dialect", fence.Row{Table: "t"}, db, "a = ?", sqldialect.ErrUnknown},
		{"unknown dialect", fence.Row{Dialect: 7, Table: "t"}, db, "a = ?", sqldialect.ErrUnknown},
		{"empty SET", fence.Row{Dialect: sqldialect.MySQL, Table: "t"}, db, "", nil},
		{"nil Querier", fence.Row{Dialect: sqldialect.MySQL, Table: "t"}, nil, "a = ?", nil},
	}
	for _, c := range rows {
		if err := c.g.Update(ctx, c.q, 1, 1, c.set, 1); err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("Row.Update with %s: %v, want an error (%v)", c.name, err, c.want)
		}
	}
	tables := []struct {
		name     string
		g        fence.Table
		q        fence.Querier
		resource string
	}{
		{"bad name", fence.Table{Dialect: sqldialect.Postgres, Name: "a b"}, db, "r"},
		{"no dialect", fence.Table{}, db, "r"},
		{"empty resource", fence.Table{Dialect: sqldialect.MySQL}, db, ""},
		{"long resource", fence.Table{Dialect: sqldialect.MySQL}, db, string(make([]byte, fence.MaxResourceLen+1))},
		{"nil Querier", fence.Table{Dialect: sqldialect.MySQL}, nil, "r"},
	}
	for _, c := range tables {
		if err := c.g.Admit(ctx, c.q, c.resource, 1); err == nil {
			t.Errorf("Table.Admit with %s: no error", c.name)
		}
	}
}

// TestRowUpdateWriteSkipped: when every round finds the row at a fence the
// token passes yet writes nothing (a trigger, rule or row-level security
// policy skipping the write; on MySQL a fence below the token rules out a
// matched no-op), Update stops after a few rounds with ErrWriteSkipped
// instead of running again until ctx ends, and never reports success
// without a write. The database is a fake that answers every round so.
func TestRowUpdateWriteSkipped(t *testing.T) {
	for _, c := range []struct {
		name string
		row  fence.Row
		set  string
		fake *fakesql.DB
	}{
		{"PostgreSQL", fence.Row{Dialect: sqldialect.Postgres, Table: "docs"}, "body = $1",
			&fakesql.DB{Query: func(string) []driver.Value { return []driver.Value{false, int64(5)} }}},
		{"MySQL fence below the token", fence.Row{Dialect: sqldialect.MySQL, Table: "docs"}, "body = ?",
			&fakesql.DB{Exec: func(string) int64 { return 0 }, Query: func(string) []driver.Value { return []driver.Value{int64(3)} }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err := c.row.Update(ctx, c.fake.Open(t), 1, 5, c.set, "five")
			if !errors.Is(err, fence.ErrWriteSkipped) || errors.Is(err, fence.ErrStaleToken) || errors.Is(err, fence.ErrNotFound) {
				t.Fatalf("Update that the database never writes: %v after %d statements, want ErrWriteSkipped", err, c.fake.Count())
			}
			if n := c.fake.Count(); n < 2 || n > 64 {
				t.Fatalf("Update ran %d statements before giving up, want a few rounds", n)
			}
			t.Log(err)
		})
	}

	// MySQL: a fence equal to the token is a match that changed nothing.
	fake := &fakesql.DB{Exec: func(string) int64 { return 0 }, Query: func(string) []driver.Value { return []driver.Value{int64(5)} }}
	if err := (fence.Row{Dialect: sqldialect.MySQL, Table: "docs"}).Update(t.Context(), fake.Open(t), 1, 5, "body = ?", "five"); err != nil {
		t.Fatalf("MySQL Update that matched without a change: %v", err)
	}
}

// vanishing runs its first n UPDATEs while the row is gone: it deletes row 1
// before and inserts it again after, at fence 3, as a concurrent delete and
// re-create would.
type vanishing struct {
	*sql.DB
	n int
}

func (v *vanishing) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if v.n == 0 || !strings.HasPrefix(query, "UPDATE") {
		return v.DB.ExecContext(ctx, query, args...)
	}
	v.n--
	if _, err := v.DB.ExecContext(ctx, `DELETE FROM docs WHERE id = 1`); err != nil {
		return nil, err
	}
	res, err := v.DB.ExecContext(ctx, query, args...)
	if _, ierr := v.DB.ExecContext(ctx, `INSERT INTO docs (id, body, fence) VALUES (1, 'other', 3)`); ierr != nil && err == nil {
		err = ierr
	}
	return res, err
}

// TestRowUpdateMySQLRecreated: on MySQL, an UPDATE that matched nothing
// because the row was deleted and created again in between, at a fence below
// the token, is not a success: Update runs again and writes.
func TestRowUpdateMySQLRecreated(t *testing.T) {
	d := sqlDBs[1]
	db, guard := docs(t, d)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := guard.Update(ctx, &vanishing{DB: db, n: 2}, 1, 5, d.set, "five"); err != nil {
		t.Fatalf("Update over a row re-created twice: %v", err)
	}
	if b := body(t, d, db); b != "five" {
		t.Fatalf("body %q after a successful Update, want five", b)
	}
}

// TestRowUpdateSkippedByTrigger: on PostgreSQL a BEFORE UPDATE trigger that
// returns NULL skips every write; Update reports ErrWriteSkipped.
func TestRowUpdateSkippedByTrigger(t *testing.T) {
	d := sqlDBs[0]
	db, guard := docs(t, d)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	testenv.SkipUpdates(t, db, "docs")
	err := guard.Update(ctx, db, 1, 5, d.set, "five")
	if !errors.Is(err, fence.ErrWriteSkipped) || errors.Is(err, fence.ErrStaleToken) {
		t.Fatalf("Update that a trigger skips: %v, want ErrWriteSkipped", err)
	}
	t.Log(err)
	if b := body(t, d, db); b != "" {
		t.Fatalf("body %q after a skipped Update, want it empty", b)
	}
}
