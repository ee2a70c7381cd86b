package zklock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// A free lock is taken by one request, the multi that creates the node and
// touches the key's node: its reply shows the node alone in the queue, and
// the key's node's modification zxid, which is the node's creation zxid and
// so the token.
func TestFreeLockIsTakenInOneRequest(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	var c opCounter
	l := newLocker(t, connect(t, servers, sessionTimeout, c.dial), root)
	makeKeyNode(t, l, "k")

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

	checkTokenIsTheNodesZxid(t, connect(t, servers, sessionTimeout, nil), root+"/k", lease)
}

// A lock taken by its create sets its loss watch just after. When a broken
// connection cuts that request, it is sent again once the client is back in
// its session, which outlives a reconnect: the lease stays held, and the
// watch reports the node's deletion at once, long before the lease's
// deadline, with no refresh in between.
func TestGrantWatchesItsNodeAfterAReconnectThatCutItsWatch(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	var c opCounter
	l := newLocker(t, connect(t, servers, sessionTimeout, c.dial), root)
	c.cutBefore.Store(opGetData) // the grant's watch of its node
	lease, err := l.Acquire(testContext(t), "k", lock.WithTTL(sessionTimeout), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(testContext(t)) }()
	waitUntil(t, "the watch is asked for again after the reconnect", func() bool {
		return c.cutBefore.Load() == 0 && c.dials.Load() == 2 && c.count(opGetData) == 2
	})
	if err := lease.Err(); err != nil {
		t.Fatalf("lease ended by a broken connection its session outlived: %v", err)
	}
	// Without the watch, only the lease's deadline, seconds away, would end it.
	deleteHoldersNode(t, servers, root+"/k", lease, 2*time.Second)
}

// Closing the connection ends its session, and the server deletes the lock
// node: a lease taken by its create, whose loss watch may still be on its
// way when the connection closes, ends at once too, not at its deadline.
func TestClosedConnectionEndsALeaseTakenByItsCreate(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	for i := range 10 {
		conn := connect(t, servers, sessionTimeout, nil)
		lease, err := newLocker(t, conn, root).Acquire(testContext(t), "k")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		select {
		case <-lease.Done():
		case <-time.After(time.Second):
			t.Fatalf("round %d: Done still open 1 s after the connection was closed", i)
		}
		if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("round %d: Err after the connection was closed: %v, want ErrLost", i, err)
		}
	}
}

// A key's znode that the Locker may not write (made with an ACL without
// zk.PermWrite) gets a plain create and a listing of the queue instead of
// the multi: locking works as before.
func TestKeyZnodeTheLockerCannotWrite(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	admin := connect(t, servers, sessionTimeout, nil)
	if _, err := admin.Create(root+"/k", nil, 0, zk.WorldACL(zk.PermRead|zk.PermCreate|zk.PermDelete)); err != nil {
		t.Fatal(err)
	}
	lease, err := newLocker(t, connect(t, servers, sessionTimeout, nil), root).TryAcquire(testContext(t), "k")
	if err != nil {
		t.Fatalf("TryAcquire on a key znode the Locker may not write: %v", err)
	}
	checkTokenIsTheNodesZxid(t, admin, root+"/k", lease)
	if _, err := newLocker(t, connect(t, servers, sessionTimeout, nil), root).TryAcquire(testContext(t), "k"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("TryAcquire by another session: %v, want ErrNotAcquired", err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// An acquisition whose context ends while its create is on its way gets the
// context's error, even when the create took the lock, and leaves no node.
func TestCancelledWhileItsCreateIsOnItsWay(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	c := &opCounter{paused: make(chan struct{}), resume: make(chan struct{})}
	l := newLocker(t, connect(t, servers, sessionTimeout, c.dial), root)
	makeKeyNode(t, l, "k")
	c.pauseOn.Store(opMulti)
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		lease, err := l.Acquire(ctx, "k")
		if err == nil {
			err = errors.Join(errors.New("granted"), lease.Release(testContext(t)))
		}
		done <- err
	}()
	<-c.paused
	cancel()
	close(c.resume)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire cancelled while its create was on its way: %v, want context.Canceled", err)
	}
	if nodes := children(t, connect(t, servers, sessionTimeout, nil), root+"/k"); len(nodes) != 0 {
		t.Fatalf("queue holds %v after the cancelled Acquire, want nothing", nodes)
	}
}

// A waiter cancelled while its watch on its predecessor is on its way does
// not list the queue afterwards, as the predecessor's deletion would have
// had it do.
func TestCancelledWaiterListsNothingAfterItReturns(t *testing.T) {
	const key = "cancelled-mid-watch"
	q := queueWithHolder(t, key)
	c := &opCounter{paused: make(chan struct{}), resume: make(chan struct{})}
	c.pauseOn.Store(opGetData) // the waiter's watch on the holder's node
	waiter := newLocker(t, connect(t, q.servers, sessionTimeout, c.dial), q.root)
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Acquire(ctx, key)
		done <- err
	}()
	<-c.paused
	if err := q.holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	listings := c.count(opGetChildren2)
	// The watch's request finds the holder's node gone; the withdrawal of
	// the waiter's node, behind it on the connection, lets Acquire return.
	close(c.resume)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := c.count(opGetChildren2); got != listings {
		t.Fatalf("%d listings of the queue after the cancelled Acquire returned", got-listings)
	}
}

// makeKeyNode takes key on l and releases it, which leaves the key's znode
// in place for the test's own acquisitions.
func makeKeyNode(t *testing.T, l lock.Locker, key string) {
	t.Helper()
	lease, err := l.TryAcquire(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// checkTokenIsTheNodesZxid fails t unless dir holds one node, the lease's,
// created at the zxid that is the lease's token.
func checkTokenIsTheNodesZxid(t *testing.T, conn *zk.Conn, dir string, lease lock.Lease) {
	t.Helper()
	nodes := children(t, conn, dir)
	if len(nodes) != 1 {
		t.Fatalf("queue holds %v, want the lease's node", nodes)
	}
	_, stat, err := conn.Exists(dir + "/" + nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if lease.Token() != uint64(stat.Czxid) {
		t.Fatalf("token %d, want the node's creation zxid %d", lease.Token(), stat.Czxid)
	}
}
