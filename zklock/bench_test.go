package zklock_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/zklock"
)

// BenchmarkAcquireRelease: one process takes and gives back a free key.
func BenchmarkAcquireRelease(b *testing.B) {
	servers, root := testenv.ZooKeeperServers(b), testenv.ZooKeeperRoot(b)
	l := newLocker(b, connect(b, servers, sessionTimeout, nil), root)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		lease, err := l.Acquire(ctx, "uncontended")
		if err != nil {
			b.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContention: N processes, each with its own session, take turns on
// one key. handoff is the time from a holder's Release call to the next
// holder's Acquire returning.
func BenchmarkContention(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchContention(b, n) })
	}
}

func benchContention(b *testing.B, n int) {
	servers, root := testenv.ZooKeeperServers(b), testenv.ZooKeeperRoot(b)
	lockers := make([]*zklock.Locker, n)
	for i := range lockers {
		lockers[i] = newLocker(b, connect(b, servers, sessionTimeout, nil), root)
	}
	ctx := context.Background()
	base := time.Now()
	var (
		remaining    = int64(b.N)
		releasedAt   atomic.Int64 // since base; 0: no release yet
		mu           sync.Mutex
		handoffs     []time.Duration
		firstFailure atomic.Value
	)
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, l := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				handoffs = append(handoffs, mine...)
				mu.Unlock()
			}()
			for atomic.AddInt64(&remaining, -1) >= 0 {
				lease, err := l.Acquire(ctx, "contended")
				if err != nil {
					firstFailure.CompareAndSwap(nil, err)
					return
				}
				if r := releasedAt.Load(); r != 0 {
					mine = append(mine, time.Since(base)-time.Duration(r))
				}
				releasedAt.Store(int64(time.Since(base)))
				if err := lease.Release(ctx); err != nil {
					firstFailure.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := firstFailure.Load(); err != nil {
		b.Fatal(err)
	}
	reportPercentiles(b, "handoff", handoffs)
}

// reportPercentiles reports the p50 and p99 of ds in milliseconds.
func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}

// BenchmarkRawCreateDelete is the floor under AcquireRelease: the two
// requests any ZooKeeper lock needs, create an ephemeral sequential node and
// delete it, on one session.
func BenchmarkRawCreateDelete(b *testing.B) {
	servers, root := testenv.ZooKeeperServers(b), testenv.ZooKeeperRoot(b)
	conn := connect(b, servers, sessionTimeout, nil)
	acl := zk.WorldACL(zk.PermAll)
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		p, err := conn.Create(root+"/raw-", nil, zk.FlagEphemeralSequential, acl)
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Delete(p, -1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, "op", lat)
}

// BenchmarkRawHandoff is the floor under a contended handoff: one session
// deletes a node another session watches, and the watcher, woken by the
// event, lists the queue once, the least any ZooKeeper lock does before it
// can grant.
func BenchmarkRawHandoff(b *testing.B) {
	servers, root := testenv.ZooKeeperServers(b), testenv.ZooKeeperRoot(b)
	holder := connect(b, servers, sessionTimeout, nil)
	waiter := connect(b, servers, sessionTimeout, nil)
	acl := zk.WorldACL(zk.PermAll)
	var handoffs []time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		p, err := holder.Create(root+"/handoff-", nil, zk.FlagEphemeralSequential, acl)
		if err != nil {
			b.Fatal(err)
		}
		_, _, deleted, err := waiter.GetW(p)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := holder.Delete(p, -1); err != nil {
			b.Fatal(err)
		}
		<-deleted
		if _, _, err := waiter.Children(root); err != nil {
			b.Fatal(err)
		}
		handoffs = append(handoffs, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, "handoff", handoffs)
}
