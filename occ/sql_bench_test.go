package occ_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/racefree/racefree/occ"
)

// BenchmarkRowUpdate measures optimistic updates of a versioned row (read
// balance and version, Table.Update, occ.Retry on conflict) from
// 4×GOMAXPROCS goroutines on each database: with low contention every
// goroutine has its own row, with high contention all share one row. It
// reports updates/s and retries (conflicts) per update.
func BenchmarkRowUpdate(b *testing.B) {
	const parallelism = 4
	for _, d := range sqlDBs {
		b.Run(d.name, func(b *testing.B) {
			workers := parallelism * 64 // rows for every goroutine RunParallel may start
			db, table := accounts(b, d, workers)
			read := "SELECT balance, version FROM accounts WHERE id = "
			for _, c := range []struct {
				name   string
				shared bool
			}{{"LowContention", false}, {"HighContention", true}} {
				b.Run(c.name, func(b *testing.B) {
					ctx := b.Context()
					var next, conflicts, updates atomic.Int64
					b.SetParallelism(parallelism)
					b.RunParallel(func(pb *testing.PB) {
						id := 1
						if !c.shared {
							id = int(next.Add(1)%int64(workers)) + 1
						}
						stmt := read + fmt.Sprint(id)
						for pb.Next() {
							st, err := occ.Retry(ctx, "account", func(ctx context.Context) error {
								var balance, version int64
								if err := db.QueryRowContext(ctx, stmt).Scan(&balance, &version); err != nil {
									return err
								}
								_, err := table.Update(ctx, db, id, version, d.set, balance+1)
								return err
							}, occ.WithMaxAttempts(10000))
							if err != nil {
								b.Error(err)
								return
							}
							conflicts.Add(int64(st.Conflicts))
							updates.Add(1)
						}
					})
					if n := updates.Load(); n > 0 {
						b.ReportMetric(float64(conflicts.Load())/float64(n), "retries/op")
						b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
					}
				})
			}
		})
	}
}
