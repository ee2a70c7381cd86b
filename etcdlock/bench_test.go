package etcdlock_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/internal/testenv"
)

func benchLocker(b *testing.B, client *clientv3.Client) *etcdlock.Locker {
	l := etcdlock.New(client, etcdlock.WithPrefix(testenv.Prefix(b)))
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// BenchmarkAcquireRelease is one uncontended Acquire and Release.
func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	l := benchLocker(b, testenv.Etcd(b))
	if lease, err := l.Acquire(ctx, "k"); err == nil { // grant the session first
		_ = lease.Release(ctx)
	}
	b.ResetTimer()
	for b.Loop() {
		lease, err := l.Acquire(ctx, "k")
		if err != nil {
			b.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawFloor is the least etcd can do for a lock: a put-if-absent
// transaction with a lease, and a delete.
func BenchmarkRawFloor(b *testing.B) {
	ctx := context.Background()
	client := testenv.Etcd(b)
	grant, err := client.Grant(ctx, 30)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = client.Revoke(context.Background(), grant.ID) })
	key := testenv.Prefix(b) + "/raw"
	for b.Loop() {
		resp, err := client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(grant.ID))).
			Commit()
		if err != nil || !resp.Succeeded {
			b.Fatalf("put-if-absent: %v, succeeded %v", err, resp != nil && resp.Succeeded)
		}
		if _, err := client.Delete(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// mutex is one contender's view of a lock under benchmark.
type mutex struct {
	lock   func(ctx context.Context) error
	unlock func(ctx context.Context) error
}

// BenchmarkContention has N contenders, each with its own client, take turns
// on one key. handoff-p50/p99-ms is the time from a holder starting its
// release to the next waiter's Acquire returning.
func BenchmarkContention(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			contend(b, n, func(b *testing.B) mutex {
				l := benchLocker(b, testenv.Etcd(b))
				var lease interface{ Release(context.Context) error }
				return mutex{
					lock: func(ctx context.Context) error {
						got, err := l.Acquire(ctx, "k")
						lease = got
						return err
					},
					unlock: func(ctx context.Context) error { return lease.Release(ctx) },
				}
			})
		})
	}
}

// BenchmarkConcurrencyMutex is BenchmarkContention for etcd's own
// concurrency.Mutex, for comparison.
func BenchmarkConcurrencyMutex(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			contend(b, n, func(b *testing.B) mutex {
				s, err := concurrency.NewSession(testenv.Etcd(b))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				m := concurrency.NewMutex(s, testenv.Prefix(b)+"/cm")
				return mutex{lock: m.Lock, unlock: m.Unlock}
			})
		})
	}
}

// contend runs b.N turns of N contenders on one lock and reports the
// handoff latency (a holder starting its release to the next waiter's lock
// returning) and the release latency (the write at the start of each handoff,
// which bounds it from below).
func contend(b *testing.B, n int, newMutex func(b *testing.B) mutex) {
	ctx := context.Background()
	mutexes := make([]mutex, n)
	for i := range mutexes {
		mutexes[i] = newMutex(b)
	}
	base := time.Now()
	var (
		turns       atomic.Int64
		lastRelease atomic.Int64 // since base, when the holder began releasing
		mu          sync.Mutex
		handoffs    []time.Duration
		releases    []time.Duration
		wg          sync.WaitGroup
	)
	b.ResetTimer()
	for _, m := range mutexes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for turns.Add(1) <= int64(b.N) {
				start := time.Since(base)
				if err := m.lock(ctx); err != nil {
					b.Error(err)
					return
				}
				granted := time.Since(base)
				if released := time.Duration(lastRelease.Load()); released > start {
					mu.Lock()
					handoffs = append(handoffs, granted-released)
					mu.Unlock()
				}
				releasing := time.Since(base)
				lastRelease.Store(int64(releasing))
				if err := m.unlock(ctx); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				releases = append(releases, time.Since(base)-releasing)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportQuantiles(b, "handoff", handoffs)
	reportQuantiles(b, "release", releases)
}

// reportQuantiles reports the median and 99th percentile of ds in ms.
func reportQuantiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), name+"-p50-ms")
	b.ReportMetric(ms(0.99), name+"-p99-ms")
}
