package sqlcas_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

// BenchmarkStore measures each operation of the Store, one at a time, on
// each database, and reports ops/s.
func BenchmarkStore(b *testing.B) {
	for _, db := range databases {
		b.Run(db.name, func(b *testing.B) {
			s := newStore(b, db.dialect, db.open)
			ctx := b.Context()
			if _, err := s.Create(ctx, "bench/get", []byte("value")); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64 // distinct keys across the runs of a sub-benchmark
			key := func(prefix string) string { return prefix + strconv.FormatInt(n.Add(1), 10) }
			b.Run("Get", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Get(ctx, "bench/get"); err != nil {
						b.Fatal(err)
					}
				}
				opsPerSec(b)
			})
			b.Run("Create", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Create(ctx, key("bench/create/"), []byte("value")); err != nil {
						b.Fatal(err)
					}
				}
				opsPerSec(b)
			})
			b.Run("CompareAndSwap", func(b *testing.B) {
				it, err := s.Create(ctx, key("bench/swap/"), []byte("value"))
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if it, err = s.CompareAndSwap(ctx, it.Key, it.Version, []byte("value")); err != nil {
						b.Fatal(err)
					}
				}
				opsPerSec(b)
			})
			b.Run("CompareAndSwapStale", func(b *testing.B) {
				it, err := s.Create(ctx, key("bench/stale/"), []byte("value"))
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := s.CompareAndSwap(ctx, it.Key, it.Version+1, []byte("value")); err == nil {
						b.Fatal("a stale CompareAndSwap succeeded")
					}
				}
				opsPerSec(b)
			})
			b.Run("DeleteCreate", func(b *testing.B) {
				it, err := s.Create(ctx, key("bench/revive/"), []byte("value"))
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if err := s.CompareAndDelete(ctx, it.Key, it.Version); err != nil {
						b.Fatal(err)
					}
					if it, err = s.Create(ctx, it.Key, []byte("again")); err != nil {
						b.Fatal(err)
					}
				}
				opsPerSec(b)
			})
			b.Run("UpdateContended", func(b *testing.B) {
				benchContended(b, s)
			})
		})
	}
}

// benchContended increments one item from 4×GOMAXPROCS goroutines with
// occ.Update and reports updates/s and conflicts per update.
func benchContended(b *testing.B, s cas.Store) {
	ctx := b.Context()
	var conflicts, updates atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, st, err := occ.Update(ctx, s, "bench/counter", func(cur cas.Item) ([]byte, error) {
				n, _ := strconv.Atoi(string(cur.Value))
				return []byte(strconv.Itoa(n + 1)), nil
			}, occ.CreateIfMissing(), occ.WithMaxAttempts(10000))
			if err != nil {
				b.Error(err)
				return
			}
			conflicts.Add(int64(st.Conflicts))
			updates.Add(1)
		}
	})
	if updates.Load() > 0 {
		b.ReportMetric(float64(conflicts.Load())/float64(updates.Load()), "conflicts/op")
	}
	opsPerSec(b)
}

func opsPerSec(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}
