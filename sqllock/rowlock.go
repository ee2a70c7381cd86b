package sqllock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/racefree/racefree/sqldialect"
)

// Mode is the strength of a row lock.
type Mode int

const (
	// Exclusive locks rows for writing (FOR UPDATE): no other transaction can
	// lock them in any mode, update or delete them until this one ends.
	Exclusive Mode = iota
	// Shared locks rows for reading (PostgreSQL FOR SHARE, MariaDB LOCK IN
	// SHARE MODE): other transactions can share-lock them too, but none can
	// lock them exclusively, update or delete them until this one ends.
	Shared
)

// String returns "exclusive" or "shared".
func (m Mode) String() string {
	if m == Shared {
		return "shared"
	}
	return "exclusive"
}

// WaitPolicy says what a row lock does when another transaction holds a
// conflicting lock on a row: Wait, NoWait, SkipLocked, or WaitAtMost(d).
type WaitPolicy time.Duration

const (
	// Wait blocks until the rows are free (or the database's own lock timeout
	// fires, or ctx ends).
	Wait WaitPolicy = 0
	// NoWait fails at once with lock.ErrNotAcquired when a row is locked.
	NoWait WaitPolicy = -1
	// SkipLocked leaves locked rows out of the result: the queue pattern, where
	// each worker takes rows no one else is working on.
	SkipLocked WaitPolicy = -2
)

// WaitAtMost waits up to d for the rows, then fails with lock.ErrNotAcquired.
// PostgreSQL waits d (rounded up to a millisecond); MariaDB only waits whole
// seconds and rounds d up. WaitAtMost of zero or less is NoWait.
func WaitAtMost(d time.Duration) WaitPolicy {
	if d <= 0 {
		return NoWait
	}
	return WaitPolicy(d)
}

// String describes the policy as SQL would.
func (w WaitPolicy) String() string {
	switch {
	case w == Wait:
		return "wait"
	case w == NoWait:
		return "nowait"
	case w == SkipLocked:
		return "skip locked"
	case w > 0:
		return "wait at most " + time.Duration(w).String()
	}
	return fmt.Sprintf("invalid wait policy %d", int64(w))
}

func (w WaitPolicy) valid() bool { return w >= SkipLocked }

// seconds is the timeout in whole seconds, rounded up.
func (w WaitPolicy) seconds() int64 {
	return int64((time.Duration(w) + time.Second - 1) / time.Second)
}

// millis is the timeout in whole milliseconds, rounded up.
func (w WaitPolicy) millis() int64 {
	return int64((time.Duration(w) + time.Millisecond - 1) / time.Millisecond)
}

// RowLock locks the rows a SELECT reads, inside the caller's transaction:
// the locks are held until that transaction commits or rolls back.
//
//	book := sqllock.RowLock{Dialect: sqldialect.Postgres, Mode: sqllock.Exclusive, Wait: sqllock.NoWait}
//	err := book.Query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&status) },
//		"SELECT status FROM seats WHERE seat_id = $1", "A1")
//	if errors.Is(err, lock.ErrNotAcquired) { /* someone is booking A1 right now */ }
//
// A failed lock (lock.ErrNotAcquired) leaves the transaction usable on both
// databases: on PostgreSQL, NoWait and WaitAtMost run the statement under a
// savepoint and roll back to it. A deadlock (ErrDeadlock) means: roll back
// and start over (see WithTx).
type RowLock struct {
	Dialect sqldialect.Dialect // sqldialect.Postgres, or sqldialect.MySQL for MariaDB
	Mode    Mode
	Wait    WaitPolicy
}

// pgSavepoint is the savepoint RowLock sets on PostgreSQL around a statement
// that may fail to lock.
const pgSavepoint = "racefree_rowlock"

// Query runs query (a SELECT without a locking clause; RowLock appends it at
// the end, after any ORDER BY or LIMIT) with args in tx, locks the rows it
// reads, and calls scan once per row. scan must only Scan the row: tx is busy
// until Query returns. Lock failures are translated (see Translate).
func (l RowLock) Query(ctx context.Context, tx *sql.Tx, scan func(*sql.Rows) error, query string, args ...any) error {
	if err := l.check(tx); err != nil {
		return err
	}
	if scan == nil {
		return fmt.Errorf("%w: nil scan function", ErrInvalidArgument)
	}
	query = strings.TrimRight(strings.TrimSpace(query), "; \t\n") + " " + lockClause(l.Dialect, l.Mode, l.Wait)
	if l.Dialect != sqldialect.Postgres || l.Wait == Wait || l.Wait == SkipLocked {
		return Translate(queryRows(ctx, tx, scan, query, args))
	}
	return l.pgGuarded(ctx, tx, scan, query, args)
}

func (l RowLock) check(tx *sql.Tx) error {
	if err := checkDialect("RowLock", l.Dialect); err != nil {
		return err
	}
	switch {
	case tx == nil:
		return fmt.Errorf("%w: nil transaction", ErrInvalidArgument)
	case l.Mode != Exclusive && l.Mode != Shared:
		return fmt.Errorf("%w: lock mode %d", ErrInvalidArgument, l.Mode)
	case !l.Wait.valid():
		return fmt.Errorf("%w: %v", ErrInvalidArgument, l.Wait)
	}
	return nil
}

// pgGuarded runs a NoWait or WaitAtMost query on PostgreSQL under a savepoint,
// so that a lock failure (which aborts the statement's transaction) can be
// rolled back to it, and with lock_timeout set for WaitAtMost and restored.
func (l RowLock) pgGuarded(ctx context.Context, tx *sql.Tx, scan func(*sql.Rows) error, query string, args []any) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+pgSavepoint); err != nil {
		return Translate(err)
	}
	var prevTimeout string
	var err error
	if l.Wait > 0 {
		err = tx.QueryRowContext(ctx, "SELECT current_setting('lock_timeout'), set_config('lock_timeout', $1, true)",
			fmt.Sprintf("%dms", l.Wait.millis())).Scan(&prevTimeout, new(string))
	}
	var scanErr error
	if err == nil {
		err = queryRows(ctx, tx, func(r *sql.Rows) error {
			if scanErr = scan(r); scanErr != nil {
				return scanErr
			}
			return nil
		}, query, args)
	}
	if err != nil && (scanErr == nil || !errors.Is(err, scanErr)) {
		// The statement failed: undo it (and lock_timeout) on the server.
		_, rbErr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+pgSavepoint+"; RELEASE SAVEPOINT "+pgSavepoint)
		return errors.Join(Translate(err), rbErr)
	}
	// The rows are locked: keep them, put lock_timeout back.
	if _, relErr := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+pgSavepoint); relErr != nil {
		return errors.Join(err, relErr)
	}
	if l.Wait > 0 {
		if _, resErr := tx.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, true)", prevTimeout); resErr != nil {
			return errors.Join(err, resErr)
		}
	}
	return err
}

// queryRows runs query in tx and calls scan for each row.
func queryRows(ctx context.Context, tx *sql.Tx, scan func(*sql.Rows) error, query string, args []any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close() //nolint:errcheck // rows.Err below reports what matters
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
