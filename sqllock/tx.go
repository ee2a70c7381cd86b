package sqllock

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/racefree/racefree/internal/finesleep"
)

// DefaultMaxAttempts is how many times WithTx runs a transaction when
// TxOptions.MaxAttempts is zero.
const DefaultMaxAttempts = 5

// TxOptions tunes WithTx. The zero value (or nil) is a read-write
// transaction at the database's default isolation level, run at most
// DefaultMaxAttempts times with DefaultTxBackOff between attempts.
type TxOptions struct {
	// Isolation is the transaction's isolation level; sql.LevelDefault keeps
	// the database's (READ COMMITTED on PostgreSQL, REPEATABLE READ on MariaDB).
	Isolation sql.IsolationLevel
	// ReadOnly starts a read-only transaction.
	ReadOnly bool
	// MaxAttempts bounds the runs of the transaction; zero means
	// DefaultMaxAttempts, 1 means no retry.
	MaxAttempts int
	// BackOff makes the strategy of pauses between attempts; it is called once
	// per WithTx, and must not return nil (WithTx then fails with
	// ErrInvalidArgument). Nil means DefaultTxBackOff.
	BackOff func() backoff.BackOff
}

// DefaultTxBackOff is the pause between attempts of WithTx: jittered
// exponential backoff from 10 ms to 1 s, so that the transactions that
// collided do not collide again in lock step.
func DefaultTxBackOff() backoff.BackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     10 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         time.Second,
	}
}

// WithTx runs fn in a transaction on db and commits it. When the transaction
// fails on a deadlock or a serialization failure (ErrDeadlock,
// ErrSerialization, from fn's statements or from the commit), it is rolled
// back and run again, from the start, after a jittered pause, up to
// MaxAttempts times. Any other error of fn rolls back and is returned as it
// is, as is ctx's error when ctx ends. After the last attempt the error says
// how many were made and wraps the last failure.
//
// fn may run several times: it must not have effects outside the
// transaction that cannot be repeated.
func WithTx(ctx context.Context, db *sql.DB, opts *TxOptions, fn func(tx *sql.Tx) error) error {
	if db == nil || fn == nil {
		return fmt.Errorf("%w: WithTx needs a *sql.DB and a function", ErrInvalidArgument)
	}
	if opts == nil {
		opts = &TxOptions{}
	}
	attempts := opts.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	if attempts < 0 {
		return fmt.Errorf("%w: MaxAttempts %d is negative", ErrInvalidArgument, attempts)
	}
	newBackOff := opts.BackOff
	if newBackOff == nil {
		newBackOff = DefaultTxBackOff
	}
	b := newBackOff()
	if b == nil {
		return fmt.Errorf("%w: TxOptions.BackOff returned nil", ErrInvalidArgument)
	}
	b.Reset()
	txOpts := &sql.TxOptions{Isolation: opts.Isolation, ReadOnly: opts.ReadOnly}
	for attempt := 1; ; attempt++ {
		err := runTx(ctx, db, txOpts, fn)
		if err == nil || !Retryable(err) {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		pause := b.NextBackOff()
		if attempt >= attempts || pause == backoff.Stop {
			return fmt.Errorf("sqllock: transaction failed %d times, giving up: %w", attempt, err)
		}
		if err := finesleep.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}

// runTx runs fn in one transaction and commits it, translating the errors.
func runTx(ctx context.Context, db *sql.DB, txOpts *sql.TxOptions, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, txOpts)
	if err != nil {
		return Translate(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // MariaDB has already rolled back a deadlock victim
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		return Translate(err)
	}
	if err := tx.Commit(); err != nil {
		return Translate(err)
	}
	return nil
}
