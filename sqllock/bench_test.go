package sqllock

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
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

// BenchmarkLocker measures Acquire+Release of one key, alone and with 8 and
// 32 contenders (each its own Locker, as separate processes would have, on
// one pool). Under contention it reports the hand-off time from a holder's
// Release to the grant of another Locker (p50, p99), and the share of grants
// that went to another Locker than the last holder (the rest were taken
// again by the releasing Locker's own next Acquire).
func BenchmarkLocker(b *testing.B) {
	for _, db := range databases {
		for _, kind := range lockerKinds {
			for _, n := range []int{1, 8, 32} {
				b.Run(fmt.Sprintf("%s/%s/N=%d", db.name, kind.name, n), func(b *testing.B) {
					pool := db.open(b)
					pool.SetMaxIdleConns(2 * n)
					newLeaseLocker(b, db, LeaseConfig{}) // the schema
					lockers := make([]lock.Locker, n)
					for i := range lockers {
						lockers[i] = kind.make(b, db, pool)
					}
					benchContention(b, lockers)
				})
			}
		}
	}
}

func benchContention(b *testing.B, lockers []lock.Locker) {
	ctx := context.Background()
	key := "bench-" + b.Name()
	var (
		next      atomic.Int64
		released  atomic.Int64 // UnixNano when the last holder began to release
		holder    atomic.Int64 // index+1 of the last holder
		handovers atomic.Int64 // grants to another Locker than the last holder
		mu        sync.Mutex
		handoffs  []time.Duration
		wg        sync.WaitGroup
		firstErr  error
		errOnce   sync.Once
		contended = len(lockers) > 1
	)
	b.ResetTimer()
	for i, l := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				lease, err := l.Acquire(ctx, key, lock.WithoutAutoRefresh())
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				// A hand-off: the lock passed from another Locker to this one.
				if r := released.Load(); contended && r != 0 && holder.Load() != int64(i+1) {
					d := time.Since(time.Unix(0, r))
					handovers.Add(1)
					mu.Lock()
					handoffs = append(handoffs, d)
					mu.Unlock()
				}
				holder.Store(int64(i + 1))
				released.Store(time.Now().UnixNano())
				if err := lease.Release(ctx); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	if len(handoffs) > 0 {
		slices.Sort(handoffs)
		b.ReportMetric(ms(handoffs[len(handoffs)/2]), "handoff-p50-ms")
		b.ReportMetric(ms(handoffs[len(handoffs)*99/100]), "handoff-p99-ms")
		b.ReportMetric(100*float64(handovers.Load())/float64(b.N), "handover-%")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
