package sqllock

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/racefree/racefree/lock"
)

// accounts makes a table of accounts 1..n with 100 each.
func accounts(t *testing.T, db database, n int) *sql.DB {
	pool := db.open(t)
	mustExec(t, pool, db.dialect, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)")
	for i := 1; i <= n; i++ {
		mustExec(t, pool, db.dialect, "INSERT INTO accounts (id, balance) VALUES (?, 100)", i)
	}
	return pool
}

func TestWithTxRetriesDeadlock(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool := accounts(t, db, 2)
		l := RowLock{Dialect: db.dialect}
		lockOne := func(tx *sql.Tx, id int) error {
			return l.Query(testCtx(t), tx, func(r *sql.Rows) error { return r.Scan(new(int)) },
				db.dialect.Rebind("SELECT balance FROM accounts WHERE id = ?"), id)
		}
		// Both first attempts hold one row and then ask for the other's.
		var bothHoldOne sync.WaitGroup
		bothHoldOne.Add(2)
		var attempts [2]atomic.Int32
		transfer := func(i, from, to int) error {
			return WithTx(testCtx(t), pool, nil, func(tx *sql.Tx) error {
				first := attempts[i].Add(1) == 1
				if err := lockOne(tx, from); err != nil {
					return err
				}
				if first {
					bothHoldOne.Done()
					bothHoldOne.Wait()
				}
				if err := lockOne(tx, to); err != nil {
					return err
				}
				_, err := tx.ExecContext(testCtx(t), db.dialect.Rebind(
					"UPDATE accounts SET balance = balance + CASE WHEN id = ? THEN -10 ELSE 10 END WHERE id IN (?, ?)"), from, from, to)
				return err
			})
		}
		errs := make(chan error, 2)
		go func() { errs <- transfer(0, 1, 2) }()
		go func() { errs <- transfer(1, 2, 1) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("transfer: %v", err)
			}
		}
		if n := attempts[0].Load() + attempts[1].Load(); n < 3 {
			t.Fatalf("%d attempts in all: the deadlock victim was not retried", n)
		}
		var a, b int
		if err := pool.QueryRowContext(testCtx(t), "SELECT (SELECT balance FROM accounts WHERE id = 1), (SELECT balance FROM accounts WHERE id = 2)").Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a != 100 || b != 100 {
			t.Errorf("balances %d, %d after opposite transfers of 10, want 100, 100", a, b)
		}
	})
}

func TestLockIDsTransfersDoNotDeadlock(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		const workers, transfers = 4, 15
		pool := accounts(t, db, 3)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range transfers {
					from, to := 1+(w+i)%3, 1+(w+i+1+w%2)%3
					// No retries: LockIDs' order must avoid every deadlock.
					err := WithTx(testCtx(t), pool, &TxOptions{MaxAttempts: 1}, func(tx *sql.Tx) error {
						ids, err := LockIDs(testCtx(t), tx, RowLock{Dialect: db.dialect}, "accounts", "id", to, from)
						if err != nil {
							return err
						}
						if len(ids) != 2 {
							return fmt.Errorf("locked %v", ids)
						}
						_, err = tx.ExecContext(testCtx(t), db.dialect.Rebind(
							"UPDATE accounts SET balance = balance + CASE WHEN id = ? THEN -1 ELSE 1 END WHERE id IN (?, ?)"), from, from, to)
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var sum int
		if err := pool.QueryRowContext(testCtx(t), "SELECT SUM(balance) FROM accounts").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != 300 {
			t.Errorf("total %d after transfers, want 300", sum)
		}
	})
}

func TestWithTxGivesUp(t *testing.T) {
	pool := databases[0].open(t)
	calls := 0
	err := WithTx(testCtx(t), pool, &TxOptions{MaxAttempts: 3}, func(*sql.Tx) error {
		calls++
		return &pgconn.PgError{Code: pgSerializationFailure, Message: "could not serialize access"}
	})
	if calls != 3 {
		t.Errorf("fn ran %d times, want MaxAttempts 3", calls)
	}
	var pgErr *pgconn.PgError
	if !errors.Is(err, ErrSerialization) || !errors.As(err, &pgErr) || !strings.Contains(err.Error(), "3 times") {
		t.Errorf("after the last attempt: %v, want ErrSerialization wrapping the PgError, saying 3 times", err)
	}

	calls = 0
	errFn := errors.New("insufficient funds")
	if err := WithTx(testCtx(t), pool, nil, func(*sql.Tx) error { calls++; return errFn }); err != errFn || calls != 1 { //nolint:errorlint // returned as it is
		t.Errorf("non-retryable error: %v after %d calls, want it as it is after 1", err, calls)
	}
	if err := WithTx(testCtx(t), nil, nil, func(*sql.Tx) error { return nil }); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil db: %v", err)
	}
	if err := WithTx(testCtx(t), pool, &TxOptions{MaxAttempts: -1}, func(*sql.Tx) error { return nil }); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative MaxAttempts: %v", err)
	}
}

func TestTranslate(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{&pgconn.PgError{Code: pgLockNotAvailable}, lock.ErrNotAcquired},
		{&pgconn.PgError{Code: pgDeadlockDetected}, ErrDeadlock},
		{&pgconn.PgError{Code: pgSerializationFailure}, ErrSerialization},
	} {
		got := Translate(fmt.Errorf("query: %w", c.err))
		var pgErr *pgconn.PgError
		if !errors.Is(got, c.want) || !errors.As(got, &pgErr) {
			t.Errorf("Translate(%v) = %v, want %v wrapping the PgError", c.err, got, c.want)
		}
	}
	other := errors.New("other")
	if Translate(other) != other || Translate(nil) != nil { //nolint:errorlint // identity
		t.Error("Translate changed an error it does not know")
	}
}

// TestWithTxBackOffReturningNil: a BackOff constructor that returns nil is
// bad input, not a panic, and fn never runs.
func TestWithTxBackOffReturningNil(t *testing.T) {
	pool, err := sql.Open("pgx", "") // no I/O: WithTx must fail before using it
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pool.Close() }()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("WithTx with a BackOff constructor returning nil panicked: %v", p)
		}
	}()
	ran := false
	err = WithTx(t.Context(), pool, &TxOptions{BackOff: func() backoff.BackOff { return nil }}, func(*sql.Tx) error {
		ran = true
		return nil
	})
	if !errors.Is(err, ErrInvalidArgument) || ran {
		t.Fatalf("WithTx with a BackOff constructor returning nil: %v (fn ran: %v), want ErrInvalidArgument", err, ran)
	}
}
