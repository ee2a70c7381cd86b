package zklock_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

const (
	opExists = 3
	opCreate = 1
)

// A free lock is taken by one request, the multi that creates the node and
// touches the key's node: its reply shows the node alone in the queue, and
// the key's node's modification zxid, which is the node's creation zxid and
// so the token.
func TestFreeLockIsTakenInOneRequest(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	var c opCounter
	l := newLocker(t, connect(t, servers, sessionTimeout, c.dial), root)
	first, err := l.TryAcquire(testContext(t), "k") // creates the key's node
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}

	before := map[int32]int{}
	for _, op := range []int32{opMulti, opCreate, opGetChildren2, opExists} {
		before[op] = c.count(op)
	}
	lease, err := l.TryAcquire(testContext(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(testContext(t)) }()
	for op, want := range map[int32]int{opMulti: 1, opCreate: 0, opGetChildren2: 0, opExists: 0} {
		if got := c.count(op) - before[op]; got != want {
			t.Errorf("%d requests of opcode %d to take a free lock, want %d", got, op, want)
		}
	}

	observer := connect(t, servers, sessionTimeout, nil)
	nodes := children(t, observer, root+"/k")
	if len(nodes) != 1 {
		t.Fatalf("queue holds %v, want the lease's node", nodes)
	}
	_, stat, err := observer.Exists(root + "/k/" + nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if lease.Token() != uint64(stat.Czxid) {
		t.Fatalf("token %d, want the node's creation zxid %d", lease.Token(), stat.Czxid)
	}
}

// A grant whose loss watch could not be set, because the connection broke
// just after the grant, is still held: the session outlives a reconnect. The
// next Refresh sets the watch, which then reports the node's deletion at
// once, long before the lease's deadline.
func TestGrantWatchesItsNodeAfterARefreshWhenItsWatchWasCut(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	var c opCounter
	conn := connect(t, servers, sessionTimeout, c.dial)
	l := newLocker(t, conn, root)
	c.cutAfter.Store(opGetData) // the grant's watch of its node
	lease, err := l.Acquire(testContext(t), "k", lock.WithTTL(sessionTimeout), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(testContext(t)) }()
	waitUntil(t, "the watch's request is cut and the session is back", func() bool {
		return c.cutAfter.Load() == 0 && c.dials.Load() == 2 && conn.State() == zk.StateHasSession
	})
	if err := lease.Err(); err != nil {
		t.Fatalf("lease ended by a broken connection its session outlived: %v", err)
	}
	if err := lease.Refresh(testContext(t), sessionTimeout); err != nil {
		t.Fatalf("Refresh after the reconnect: %v", err)
	}
	waitUntil(t, "the watch is asked for again", func() bool { return c.count(opGetData) >= 2 })

	// Without the watch, only the lease's deadline, seconds away, would end it.
	deleteHoldersNode(t, servers, root+"/k", lease, 2*time.Second)
}
