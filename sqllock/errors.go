package sqllock

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/racefree/racefree/lock"
)

// Sentinel errors, checked with errors.Is. The database's own error stays
// wrapped: errors.As reaches the *pgconn.PgError or *mysql.MySQLError.
//
// A row lock that could not be had within the wait policy (NOWAIT on a locked
// row, a lock timeout) is reported as lock.ErrNotAcquired.
var (
	// ErrDeadlock: the database broke a deadlock by failing this
	// transaction's statement (PostgreSQL 40P01, MariaDB 1213). Roll back and
	// run the whole transaction again; WithTx does.
	ErrDeadlock = errors.New("sqllock: deadlock detected")

	// ErrSerialization: the transaction could not be serialized with a
	// concurrent one (PostgreSQL 40001 under REPEATABLE READ or SERIALIZABLE,
	// MariaDB 1020 under innodb_snapshot_isolation). Roll back and run the
	// whole transaction again; WithTx does.
	ErrSerialization = errors.New("sqllock: serialization failure")

	// ErrInvalidArgument rejects input that cannot work: a nil *sql.DB or
	// transaction, a sqldialect.Dialect that is neither Postgres nor MySQL, a
	// nil callback, a table name that is not a plain identifier, a
	// TxOptions.BackOff that returns nil, an AdvisoryConfig.PingInterval
	// below MinPingInterval.
	ErrInvalidArgument = errors.New("sqllock: invalid argument")
)

// PostgreSQL SQLSTATEs and MariaDB error numbers that Translate maps.
const (
	pgLockNotAvailable     = "55P03"
	pgDeadlockDetected     = "40P01"
	pgSerializationFailure = "40001"

	myLockWaitTimeout = 1205 // also MariaDB's NOWAIT and WAIT n failure
	myLockDeadlock    = 1213
	myCheckRead       = 1020 // "Record has changed since last read" (snapshot isolation)
	myLockNoWait      = 3572 // MySQL 8's NOWAIT failure
)

// Translate wraps a database error in the sentinel it stands for:
// lock.ErrNotAcquired for a lock wait timeout or a NOWAIT failure,
// ErrDeadlock, ErrSerialization. Other errors, and nil, are returned as they
// are. Use it on the errors of your own statements inside a transaction.
func Translate(err error) error {
	if kind := classify(err); kind != nil && !errors.Is(err, kind) {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}

// Retryable reports whether err means the whole transaction should run
// again: a deadlock or a serialization failure.
func Retryable(err error) bool {
	kind := classify(err)
	return kind == ErrDeadlock || kind == ErrSerialization
}

// classify returns the sentinel a native database error stands for, or nil.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgLockNotAvailable:
			return lock.ErrNotAcquired
		case pgDeadlockDetected:
			return ErrDeadlock
		case pgSerializationFailure:
			return ErrSerialization
		}
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case myLockWaitTimeout, myLockNoWait:
			return lock.ErrNotAcquired
		case myLockDeadlock:
			return ErrDeadlock
		case myCheckRead:
			return ErrSerialization
		}
	}
	for _, kind := range []error{lock.ErrNotAcquired, ErrDeadlock, ErrSerialization} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	return nil
}
