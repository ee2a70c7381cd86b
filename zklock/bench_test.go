package zklock_test

import (
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

// BenchmarkLocker runs locktest's shared benchmarks, each contender with its
// own session; compare with the raw floors below.
func BenchmarkLocker(b *testing.B) {
	servers, root := testenv.ZooKeeperServers(b), testenv.ZooKeeperRoot(b)
	locktest.Benchmark(b, func(b *testing.B) lock.Locker {
		return newLocker(b, connect(b, servers, sessionTimeout, nil), root)
	})
}

// reportPercentiles reports the p50 and p99 of ds in microseconds, as
// locktest.Benchmark does.
func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), name+"-p50-µs")
	b.ReportMetric(at(0.99), name+"-p99-µs")
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
