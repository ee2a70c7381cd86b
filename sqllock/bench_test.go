package sqllock

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
	"github.com/racefree/racefree/sqldialect"
)

// lockerKinds are the Lockers of the package, by name.
var lockerKinds = []struct {
	name string
	make func(b *testing.B, db database, pool *sql.DB) lock.Locker
}{
	{"lease", func(b *testing.B, db database, pool *sql.DB) lock.Locker {
		l, err := NewLeaseLocker(pool, db.dialect, LeaseConfig{})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}},
	{"advisory", func(b *testing.B, db database, pool *sql.DB) lock.Locker {
		l, err := NewAdvisoryLocker(pool, db.dialect, AdvisoryConfig{})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}},
}

// BenchmarkLocker runs locktest's shared benchmarks on each Locker of the
// package and each database; the contenders are separate Lockers on one pool.
func BenchmarkLocker(b *testing.B) {
	for _, db := range databases {
		for _, kind := range lockerKinds {
			b.Run(db.name+"/"+kind.name, func(b *testing.B) {
				pool := db.open(b)
				pool.SetMaxIdleConns(64)
				newLeaseLocker(b, db, LeaseConfig{}) // the schema
				locktest.Benchmark(b, func(b *testing.B) lock.Locker { return kind.make(b, db, pool) })
			})
		}
	}
}

// BenchmarkCounter compares a row lock (SELECT ... FOR UPDATE, then UPDATE,
// in a transaction) with an optimistic update (read the version, then
// UPDATE ... WHERE version = ?, again on a conflict) for 8 workers
// incrementing counters: each its own row (low contention) or all the same
// row (high contention).
func BenchmarkCounter(b *testing.B) {
	const workers = 8
	for _, db := range databases {
		for _, contention := range []string{"low", "high"} {
			rows := workers
			if contention == "high" {
				rows = 1
			}
			for _, strategy := range []string{"rowlock", "optimistic"} {
				b.Run(fmt.Sprintf("%s/%s/%s", db.name, contention, strategy), func(b *testing.B) {
					pool := db.open(b)
					pool.SetMaxIdleConns(2 * workers)
					mustExec(b, pool, db.dialect, "CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL, version BIGINT NOT NULL)")
					for i := range rows {
						mustExec(b, pool, db.dialect, "INSERT INTO counters (id, n, version) VALUES (?, 0, 0)", i)
					}
					incr := incrementOptimistic
					if strategy == "rowlock" {
						incr = incrementLocked
					}
					var next, retries atomic.Int64
					var wg sync.WaitGroup
					errs := make(chan error, workers)
					b.ResetTimer()
					start := time.Now()
					for w := range workers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for next.Add(1) <= int64(b.N) {
								r, err := incr(context.Background(), pool, db.dialect, w%rows)
								if err != nil {
									errs <- err
									return
								}
								retries.Add(int64(r))
							}
						}()
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					close(errs)
					for err := range errs {
						b.Fatal(err)
					}
					var total int64
					if err := pool.QueryRow("SELECT SUM(n) FROM counters").Scan(&total); err != nil || total != int64(b.N) {
						b.Fatalf("counters sum to %d (%v), want %d", total, err, b.N)
					}
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
					b.ReportMetric(float64(retries.Load())/float64(b.N), "retries/op")
				})
			}
		}
	}
}

// incrementLocked adds one to counter id under a row lock; it returns the
// number of transaction retries.
func incrementLocked(ctx context.Context, pool *sql.DB, d sqldialect.Dialect, id int) (int, error) {
	attempts := 0
	err := WithTx(ctx, pool, &TxOptions{MaxAttempts: 100}, func(tx *sql.Tx) error {
		attempts++
		var n int64
		err := RowLock{Dialect: d}.Query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&n) },
			d.Rebind("SELECT n FROM counters WHERE id = ?"), id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.Rebind("UPDATE counters SET n = ? WHERE id = ?"), n+1, id)
		return err
	})
	return attempts - 1, err
}

// incrementOptimistic adds one to counter id with a version check; it
// returns the number of retries after a conflict.
func incrementOptimistic(ctx context.Context, pool *sql.DB, d sqldialect.Dialect, id int) (int, error) {
	for retries := 0; retries < 10000; retries++ {
		var n, version int64
		if err := pool.QueryRowContext(ctx, d.Rebind("SELECT n, version FROM counters WHERE id = ?"), id).Scan(&n, &version); err != nil {
			return retries, err
		}
		res, err := pool.ExecContext(ctx, d.Rebind("UPDATE counters SET n = ?, version = version + 1 WHERE id = ? AND version = ?"), n+1, id, version)
		if err != nil {
			return retries, err
		}
		if changed, err := res.RowsAffected(); err != nil || changed == 1 {
			return retries, err
		}
	}
	return 10000, fmt.Errorf("counter %d: too many conflicts", id)
}

// BenchmarkAdvisoryFloor sets the AdvisoryLocker's uncontended Acquire and
// Release on PostgreSQL beside its floors: pg_advisory_lock and
// pg_advisory_unlock on one pgx connection, and the same through
// database/sql with a connection taken from the pool per grant (what a
// lease does).
func BenchmarkAdvisoryFloor(b *testing.B) {
	db := databases[0]
	ctx := context.Background()
	id := pgAdvisoryKey(locktestKey(b))
	b.Run("pgx-conn", func(b *testing.B) {
		conn, err := pgx.Connect(ctx, db.dsn(b))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		for b.Loop() {
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
				b.Fatal(err)
			}
			var ok bool
			if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&ok); err != nil || !ok {
				b.Fatalf("unlock: %v %v", ok, err)
			}
		}
	})
	b.Run("sql-conn", func(b *testing.B) {
		pool := db.open(b)
		for b.Loop() {
			conn, err := pool.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
				b.Fatal(err)
			}
			var ok bool
			if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&ok); err != nil || !ok {
				b.Fatalf("unlock: %v %v", ok, err)
			}
			_ = conn.Close()
		}
	})
	b.Run("locker", func(b *testing.B) {
		l, err := NewAdvisoryLocker(db.open(b), db.dialect, AdvisoryConfig{})
		if err != nil {
			b.Fatal(err)
		}
		k := locktestKey(b)
		for b.Loop() {
			lease, err := l.Acquire(ctx, k)
			if err != nil {
				b.Fatal(err)
			}
			if err := lease.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// locktestKey is a random key of its own for one benchmark (advisory locks
// are shared by the whole server).
func locktestKey(b *testing.B) string { return "floor-" + b.Name() + "-" + rand.Text() }
