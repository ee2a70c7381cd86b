package sqllock

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// seats makes a table of three free seats (ids 1, 2, 3).
func seats(t *testing.T, db database) *sql.DB {
	pool := db.open(t)
	mustExec(t, pool, db.dialect, "CREATE TABLE seats (id INT PRIMARY KEY, status VARCHAR(16) NOT NULL)")
	mustExec(t, pool, db.dialect, "INSERT INTO seats (id, status) VALUES (1, 'free'), (2, 'free'), (3, 'free')")
	return pool
}

// lockSeats locks the seats with the given ids and returns those locked.
func lockSeats(t *testing.T, tx *sql.Tx, l RowLock, ids ...int) ([]int, error) {
	t.Helper()
	return LockIDs(testCtx(t), tx, l, "seats", "id", ids...)
}

// holdSeat begins a transaction on pool that locks seat id exclusively, as
// the holder other transactions then meet.
func holdSeat(t *testing.T, pool *sql.DB, db database, id int) *sql.Tx {
	t.Helper()
	holder := begin(t, pool)
	if _, err := lockSeats(t, holder, RowLock{Dialect: db.dialect}, id); err != nil {
		t.Fatal(err)
	}
	return holder
}

// wantNative fails unless err reaches the database's own error type.
func wantNative(t *testing.T, db database, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	if !errors.As(err, &pgErr) && !errors.As(err, &myErr) {
		t.Errorf("%s: errors.As does not reach the native error in %v", db.name, err)
	}
}

func TestNoWaitOnLockedRow(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		holdSeat(t, pool, db, 1)
		tx := begin(t, pool)
		for _, mode := range []Mode{Exclusive, Shared} {
			_, err := lockSeats(t, tx, RowLock{Dialect: db.dialect, Mode: mode, Wait: NoWait}, 1)
			if !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("%v NOWAIT on a locked row: %v, want ErrNotAcquired", mode, err)
			}
			wantNative(t, db, err)
		}
		// The transaction is still usable: it can lock another row.
		got, err := lockSeats(t, tx, RowLock{Dialect: db.dialect, Wait: NoWait}, 2)
		if err != nil || len(got) != 1 || got[0] != 2 {
			t.Fatalf("after a failed NOWAIT, locking seat 2: %v, %v", got, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("commit after a failed NOWAIT: %v", err)
		}
	})
}

func TestWaitAtMost(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		holder := holdSeat(t, pool, db, 1)
		tx := begin(t, pool)
		const wait = 300 * time.Millisecond
		start := time.Now()
		_, err := lockSeats(t, tx, RowLock{Dialect: db.dialect, Wait: WaitAtMost(wait)}, 1)
		if !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("lock timeout: %v, want ErrNotAcquired", err)
		}
		wantNative(t, db, err)
		if waited := time.Since(start); waited < wait {
			t.Errorf("gave up after %v, before the %v it was told to wait", waited, wait)
		}

		// Freed within the window: granted.
		go func() {
			time.Sleep(100 * time.Millisecond)
			_ = holder.Commit()
		}()
		got, err := lockSeats(t, tx, RowLock{Dialect: db.dialect, Wait: WaitAtMost(5 * time.Second)}, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("lock freed within the wait: %v, %v", got, err)
		}
		if db.dialect == sqldialect.Postgres {
			var timeout string
			if err := tx.QueryRowContext(testCtx(t), "SHOW lock_timeout").Scan(&timeout); err != nil || timeout != "0" {
				t.Errorf("lock_timeout after WaitAtMost = %q (%v), want it restored to 0", timeout, err)
			}
		}
	})
}

func TestWaitBlocksUntilCommit(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		holder := holdSeat(t, pool, db, 1)
		mustExecTx(t, holder, db.dialect, "UPDATE seats SET status = 'booked' WHERE id = ?", 1)
		committed := make(chan struct{})
		go func() {
			time.Sleep(200 * time.Millisecond)
			close(committed)
			_ = holder.Commit()
		}()
		tx := begin(t, pool)
		var status string
		err := RowLock{Dialect: db.dialect}.Query(testCtx(t), tx, func(r *sql.Rows) error { return r.Scan(&status) },
			db.dialect.Rebind("SELECT status FROM seats WHERE id = ?"), 1)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-committed:
		default:
			t.Fatal("FOR UPDATE returned before the holder committed")
		}
		if status != "booked" {
			t.Errorf("status read under the lock = %q, want the committed %q", status, "booked")
		}
	})
}

func TestSkipLocked(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		holdSeat(t, pool, db, 2)
		for _, mode := range []Mode{Exclusive, Shared} {
			tx := begin(t, pool)
			got, err := lockSeats(t, tx, RowLock{Dialect: db.dialect, Mode: mode, Wait: SkipLocked}, 1, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != 1 || got[1] != 3 {
				t.Errorf("%v SKIP LOCKED with seat 2 locked returned %v, want [1 3]", mode, got)
			}
			_ = tx.Rollback()
		}
	})
}

func TestSharedLocks(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		shared := RowLock{Dialect: db.dialect, Mode: Shared, Wait: NoWait}
		r1, r2 := begin(t, pool), begin(t, pool)
		for i, r := range []*sql.Tx{r1, r2} {
			if got, err := lockSeats(t, r, shared, 1); err != nil || len(got) != 1 {
				t.Fatalf("reader %d: %v, %v", i+1, got, err)
			}
		}
		writer := begin(t, pool)
		_, err := lockSeats(t, writer, RowLock{Dialect: db.dialect, Wait: NoWait}, 1)
		if !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("writer while two readers share the row: %v, want ErrNotAcquired", err)
		}
		_ = r1.Commit()
		_ = r2.Commit()
		if got, err := lockSeats(t, writer, RowLock{Dialect: db.dialect, Wait: NoWait}, 1); err != nil || len(got) != 1 {
			t.Fatalf("writer after the readers committed: %v, %v", got, err)
		}
	})
}

func TestDeadlockTranslated(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := seats(t, db)
		a, b := begin(t, pool), begin(t, pool)
		l := RowLock{Dialect: db.dialect}
		if _, err := lockSeats(t, a, l, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := lockSeats(t, b, l, 2); err != nil {
			t.Fatal(err)
		}
		aErr := make(chan error, 1)
		go func() {
			_, err := lockSeats(t, a, l, 2)
			if err != nil {
				_ = a.Rollback()
			} else {
				_ = a.Commit()
			}
			aErr <- err
		}()
		time.Sleep(100 * time.Millisecond) // a waits for seat 2
		_, bErr := lockSeats(t, b, l, 1)
		if bErr != nil {
			_ = b.Rollback()
		} else {
			_ = b.Commit()
		}
		errs := []error{<-aErr, bErr}
		victims := 0
		for _, err := range errs {
			if errors.Is(err, ErrDeadlock) {
				victims++
				wantNative(t, db, err)
			} else if err != nil {
				t.Errorf("the other transaction failed with %v, want success", err)
			}
		}
		if victims != 1 {
			t.Fatalf("errors %v: want exactly one ErrDeadlock", errs)
		}
	})
}

func TestRowLockBadInput(t *testing.T) {
	pool := databases[0].open(t)
	tx := begin(t, pool)
	ctx := testCtx(t)
	for name, err := range map[string]error{
		"nil dialect":     RowLock{}.Query(ctx, tx, func(*sql.Rows) error { return nil }, "SELECT 1"),
		"unknown dialect": RowLock{Dialect: 7}.Query(ctx, tx, func(*sql.Rows) error { return nil }, "SELECT 1"),
		"nil tx":          RowLock{Dialect: sqldialect.Postgres}.Query(ctx, nil, func(*sql.Rows) error { return nil }, "SELECT 1"),
		"nil scan":        RowLock{Dialect: sqldialect.Postgres}.Query(ctx, tx, nil, "SELECT 1"),
		"bad mode":        RowLock{Dialect: sqldialect.Postgres, Mode: 7}.Query(ctx, tx, func(*sql.Rows) error { return nil }, "SELECT 1"),
		"bad wait":        RowLock{Dialect: sqldialect.Postgres, Wait: -9}.Query(ctx, tx, func(*sql.Rows) error { return nil }, "SELECT 1"),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	long := strings.Repeat("a", maxIdentPart+1)
	for _, table := range []string{"", "seats; DROP TABLE x", `"seats"`, "a.b.c", long, "s." + long} {
		if _, err := LockIDs(ctx, tx, RowLock{Dialect: sqldialect.Postgres}, table, "id", 1); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("table %q: %v, want ErrInvalidArgument", table, err)
		}
	}
	if _, err := LockIDs(ctx, tx, RowLock{Dialect: sqldialect.Postgres}, "seats", "s.id", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("qualified column: %v, want ErrInvalidArgument", err)
	}
	if got, err := LockIDs[int](ctx, tx, RowLock{Dialect: sqldialect.Postgres}, "seats", "id"); got != nil || err != nil {
		t.Errorf("no ids: %v, %v, want nothing", got, err)
	}
	// The longest name is taken (the table does not exist: the database says so).
	if _, err := LockIDs(ctx, tx, RowLock{Dialect: sqldialect.Postgres}, long[1:], "id", 1); err == nil || errors.Is(err, ErrInvalidArgument) {
		t.Errorf("table of %d bytes: %v, want the database's error", maxIdentPart, err)
	}
}

func mustExecTx(t *testing.T, tx *sql.Tx, d sqldialect.Dialect, query string, args ...any) {
	t.Helper()
	if _, err := tx.ExecContext(testCtx(t), d.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
