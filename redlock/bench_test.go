package redlock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// floorRelease is the bare token-checked delete the floor benchmark pairs with SET NX PX.
var floorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// BenchmarkFloor is the least a Redis lock can cost: SET NX PX and a Lua
// token-checked delete, two round trips, no fencing, no lease.
func BenchmarkFloor(b *testing.B) {
	rdb := testenv.Redis(b)
	ctx := context.Background()
	k := key(b)
	var tok [16]byte
	for b.Loop() {
		_, _ = rand.Read(tok[:])
		v := hex.EncodeToString(tok[:])
		if ok, err := rdb.SetNX(ctx, k, v, 30*time.Second).Result(); err != nil || !ok {
			b.Fatalf("SET NX: %v %v", ok, err)
		}
		if err := floorRelease.Run(ctx, rdb, []string{k}, v).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// newBenchLocker returns a Locker with its own connections: one node or five.
type newBenchLocker func(b *testing.B) lock.Locker

func benchBackends() map[string]newBenchLocker {
	return map[string]newBenchLocker{
		"single":  func(b *testing.B) lock.Locker { return newSingle(b, testenv.Redis(b)) },
		"quorum5": func(b *testing.B) lock.Locker { return newQuorum(b, testenv.RedisNodes(b, 5)) },
	}
}

// BenchmarkUncontended is Acquire+Release (and TryAcquire+Release) of a free
// key by one caller, against BenchmarkFloor.
func BenchmarkUncontended(b *testing.B) {
	for _, name := range []string{"single", "quorum5"} {
		newLocker := benchBackends()[name]
		for _, mode := range []string{"Acquire", "TryAcquire"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				l := newLocker(b)
				ctx := context.Background()
				k := key(b)
				take := l.Acquire
				if mode == "TryAcquire" {
					take = l.TryAcquire
				}
				for b.Loop() {
					lease, err := take(ctx, k)
					if err != nil {
						b.Fatal(err)
					}
					if err := lease.Release(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkContention runs N contenders, each with its own Locker and
// connections, taking one key in turn. It reports the handoff latency, from
// the start of a Release to the next grant to another contender, at p50 and
// p99, and the share of grants that were handoffs (the rest went back to the
// contender that had just released).
func BenchmarkContention(b *testing.B) {
	for _, name := range []string{"single", "quorum5"} {
		newLocker := benchBackends()[name]
		for _, n := range []int{8, 32} {
			b.Run(name+"/N="+itoa(n), func(b *testing.B) {
				lockers := make([]lock.Locker, n)
				for i := range lockers {
					lockers[i] = newLocker(b)
				}
				k := key(b)
				ctx := context.Background()
				var h handoffs
				var remaining atomic.Int64
				remaining.Store(int64(b.N))
				b.ResetTimer()
				var wg sync.WaitGroup
				for id, l := range lockers {
					wg.Go(func() {
						for remaining.Add(-1) >= 0 {
							lease, err := l.Acquire(ctx, k)
							if err != nil {
								b.Error(err)
								return
							}
							h.granted(id)
							h.releasing()
							if err := lease.Release(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				h.report(b)
			})
		}
	}
}

// handoffs records release → next grant latencies.
type handoffs struct {
	mu       sync.Mutex
	holder   int
	released time.Time
	samples  []time.Duration
	grants   int
}

func (h *handoffs) granted(id int) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.grants++
	if !h.released.IsZero() && id != h.holder {
		h.samples = append(h.samples, now.Sub(h.released))
	}
	h.holder = id
}

func (h *handoffs) releasing() {
	h.mu.Lock()
	h.released = time.Now()
	h.mu.Unlock()
}

func (h *handoffs) report(b *testing.B) {
	if len(h.samples) == 0 {
		return
	}
	slices.Sort(h.samples)
	at := func(p float64) float64 {
		return float64(h.samples[int(p*float64(len(h.samples)-1))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-handoff-µs")
	b.ReportMetric(at(0.99), "p99-handoff-µs")
	b.ReportMetric(float64(len(h.samples))/float64(h.grants), "handoffs/grant")
}

func itoa(n int) string { return strconv.Itoa(n) }
