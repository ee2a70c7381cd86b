package sqllock_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
	"github.com/racefree/racefree/sqllock"
)

// Book seat A1 unless someone else is booking it right now: the guide's
// seat booking, with NOWAIT instead of a queue of waiting users.
func ExampleRowLock() {
	db, err := sql.Open("pgx", os.Getenv("RACEFREE_POSTGRES_DSN"))
	if err != nil {
		return
	}
	defer db.Close()
	ctx := context.Background()
	seat := sqllock.RowLock{Dialect: sqldialect.Postgres, Mode: sqllock.Exclusive, Wait: sqllock.NoWait}
	err = sqllock.WithTx(ctx, db, nil, func(tx *sql.Tx) error {
		var status string
		if err := seat.Query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&status) },
			"SELECT status FROM seats WHERE seat_id = $1", "A1"); err != nil {
			return err
		}
		if status != "free" {
			return fmt.Errorf("seat A1 is %s", status)
		}
		_, err := tx.ExecContext(ctx, "UPDATE seats SET status = 'booked', user_id = $1 WHERE seat_id = $2", "123", "A1")
		return err
	})
	if errors.Is(err, lock.ErrNotAcquired) {
		fmt.Println("someone is booking A1 right now; offer another seat")
	}
}

// Move money between two accounts without deadlocks: LockIDs takes both rows
// in key order, whichever direction the transfer goes, and WithTx retries
// what the database still reports as a deadlock or serialization failure.
func ExampleLockIDs() {
	db, err := sql.Open("pgx", os.Getenv("RACEFREE_POSTGRES_DSN"))
	if err != nil {
		return
	}
	defer db.Close()
	ctx := context.Background()
	from, to, amount := 7, 3, 100
	err = sqllock.WithTx(ctx, db, &sqllock.TxOptions{MaxAttempts: 3}, func(tx *sql.Tx) error {
		ids, err := sqllock.LockIDs(ctx, tx, sqllock.RowLock{Dialect: sqldialect.Postgres}, "accounts", "id", from, to)
		if err != nil {
			return err
		}
		if len(ids) != 2 {
			return errors.New("no such account")
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET balance = balance + CASE WHEN id = $1 THEN -$3::int ELSE $3::int END
WHERE id IN ($1, $2)`, from, to, amount)
		return err
	})
	if err != nil {
		fmt.Println("transfer failed:", err)
	}
}

// A fenced lock on the database, across processes and poolers.
func ExampleNewLeaseLocker() {
	db, err := sql.Open("pgx", os.Getenv("RACEFREE_POSTGRES_DSN"))
	if err != nil {
		return
	}
	defer db.Close()
	ctx := context.Background()
	locker, err := sqllock.NewLeaseLocker(db, sqldialect.Postgres, sqllock.LeaseConfig{})
	if err != nil {
		return
	}
	if err := locker.EnsureSchema(ctx); err != nil { // or run locker.Schema() in a migration
		return
	}
	err = lock.Do(ctx, locker, "nightly-report", func(ctx context.Context) error {
		// ... write, passing the lease's token to the resource as a fence ...
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
}
