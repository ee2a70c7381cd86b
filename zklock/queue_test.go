package zklock_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/zklock"
)

// ZooKeeper opcodes, as the client writes them in a request header.
const (
	opCreate       = 1
	opExists       = 3
	opGetData      = 4
	opGetChildren2 = 12
	opMulti        = 14 // a lock node's create, with the touch of its key's node
)

// opCounter counts the requests one client sends, by opcode, as a dialer
// wrapper: go-zookeeper writes each request with one Write call.
type opCounter struct {
	mu  sync.Mutex
	ops map[int32]int

	// cutAfter, if not zero, is an opcode: the connection is closed right
	// after the next request with it is written, so that its reply is lost.
	cutAfter atomic.Int32

	// cutBefore, if not zero, is an opcode: the connection is closed
	// instead of writing the next request with it, which never reaches the
	// server and fails as a write to a reset connection does.
	cutBefore atomic.Int32

	// pauseOn, if not zero, is an opcode: the next request with it closes
	// paused, then waits until resume is closed before it is written. Set
	// paused and resume before pauseOn.
	pauseOn        atomic.Int32
	paused, resume chan struct{}

	dials atomic.Int32 // connections made: a reconnect adds one
}

func (c *opCounter) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	c.dials.Add(1)
	return &countingConn{Conn: conn, c: c}, nil
}

func (c *opCounter) count(op int32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[op]
}

type countingConn struct {
	net.Conn
	c        *opCounter
	handshed atomic.Bool // the first write is the connect request, which has no header
}

func (cc *countingConn) Write(b []byte) (int, error) {
	if cc.handshed.Swap(true) && len(b) >= 12 {
		op := int32(binary.BigEndian.Uint32(b[8:12]))
		cc.c.mu.Lock()
		if cc.c.ops == nil {
			cc.c.ops = map[int32]int{}
		}
		cc.c.ops[op]++
		cc.c.mu.Unlock()
		if op != 0 && cc.c.pauseOn.CompareAndSwap(op, 0) {
			close(cc.c.paused)
			<-cc.c.resume
		}
		if op != 0 && cc.c.cutBefore.CompareAndSwap(op, 0) {
			_ = cc.Conn.Close()
			// As a write to a connection the server reset fails.
			return 0, &net.OpError{Op: "write", Net: "tcp", Addr: cc.RemoteAddr(), Err: syscall.ECONNRESET}
		}
		if op != 0 && cc.c.cutAfter.CompareAndSwap(op, 0) {
			n, err := cc.Conn.Write(b)
			_ = cc.Conn.Close()
			return n, err
		}
	}
	return cc.Conn.Write(b)
}

// children lists dir's children; a missing dir has none.
func children(t *testing.T, conn *zk.Conn, dir string) []string {
	t.Helper()
	c, _, err := conn.Children(dir)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("Children(%s): %v", dir, err)
	}
	return c
}

// waitUntil polls cond every millisecond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// heldQueue is a key's queue in a test: the servers, the Lockers' root, the
// key's znode, a connection to look at it, and the holder's lease.
type heldQueue struct {
	servers   []string
	root, dir string
	observer  *zk.Conn
	holder    lock.Lease
}

// queueWithHolder has a Locker of its own take key.
func queueWithHolder(t *testing.T, key string) heldQueue {
	t.Helper()
	q := heldQueue{servers: testenv.ZooKeeperServers(t), root: testenv.ZooKeeperRoot(t)}
	q.observer = connect(t, q.servers, sessionTimeout, nil)
	q.dir = q.root + "/" + key
	holder, err := newLocker(t, connect(t, q.servers, sessionTimeout, nil), q.root).Acquire(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	q.holder = holder
	return q
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCancelledWaiterLeavesNoNode(t *testing.T) {
	const key = "cancelled"
	q := queueWithHolder(t, key)
	servers, root, dir, observer, holder := q.servers, q.root, q.dir, q.observer, q.holder
	waiter := newLocker(t, connect(t, servers, sessionTimeout, nil), root)

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := waiter.Acquire(ctx, key)
		result <- err
	}()
	waitUntil(t, "the waiter queued", func() bool { return len(children(t, observer, dir)) == 2 })
	cancel()
	if err := <-result; err != context.Canceled { //nolint:errorlint // the contract: ctx's error as it is
		t.Fatalf("cancelled Acquire returned %v, want context.Canceled", err)
	}
	if got := children(t, observer, dir); len(got) != 1 {
		t.Fatalf("after the cancelled wait the queue holds %v, want only the holder's node", got)
	}

	_, err := waiter.TryAcquire(testContext(t), key)
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire of a held key: %v", err)
	}
	if got := children(t, observer, dir); len(got) != 1 {
		t.Fatalf("after a refused TryAcquire the queue holds %v, want only the holder's node", got)
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if got := children(t, observer, dir); len(got) != 0 {
		t.Fatalf("after Release the queue holds %v, want nothing", got)
	}
}

func TestCancelledWaiterInMidQueueIsSkipped(t *testing.T) {
	const key = "midqueue"
	q := queueWithHolder(t, key)
	servers, root, dir, observer, holder := q.servers, q.root, q.dir, q.observer, q.holder
	ctxs := make([]context.Context, 3)
	cancels := make([]context.CancelFunc, 3)
	granted := make(chan int, 3)
	errs := make(chan error, 3)
	for i := range 3 {
		ctxs[i], cancels[i] = context.WithCancel(testContext(t))
		l := newLocker(t, connect(t, servers, sessionTimeout, nil), root)
		go func() {
			lease, err := l.Acquire(ctxs[i], key)
			if err != nil {
				errs <- err
				return
			}
			granted <- i
			errs <- lease.Release(context.Background())
		}()
		waitUntil(t, "the waiter queued", func() bool { return len(children(t, observer, dir)) == i+2 })
	}
	cancels[1]()                                // the middle one gives up
	if err := <-errs; err != context.Canceled { //nolint:errorlint // ctx's error as it is
		t.Fatalf("cancelled waiter: %v", err)
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if first, second := <-granted, <-granted; first != 0 || second != 2 {
		t.Fatalf("granted waiters %d then %d, want 0 then 2", first, second)
	}
	if got := children(t, observer, dir); len(got) != 0 {
		t.Fatalf("queue left with %v", got)
	}
}

// TestHundredWaitersFIFOOneWakeEach queues 100 waiters, each with its own
// session, and checks on the wire that each release wakes exactly one waiter:
// every waiter watches one node (one GetData with a watch) and lists the queue
// exactly twice, when it joins and when its predecessor goes.
func TestHundredWaitersFIFOOneWakeEach(t *testing.T) {
	const waiters = 100
	const key = "hundred"
	q := queueWithHolder(t, key)
	servers, root, dir, observer, holder := q.servers, q.root, q.dir, q.observer, q.holder

	counters := make([]*opCounter, waiters)
	lockers := make([]*zklock.Locker, waiters)
	for i := range waiters {
		counters[i] = &opCounter{}
		lockers[i] = newLocker(t, connect(t, servers, sessionTimeout, counters[i].dial), root)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := lockers[i].Acquire(testContext(t), key)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := lease.Release(context.Background()); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		}()
		waitUntil(t, "the waiter queued", func() bool { return len(children(t, observer, dir)) == i+2 })
	}
	waitUntil(t, "every waiter watches its predecessor", func() bool {
		for _, c := range counters {
			if c.count(opGetData) == 0 {
				return false
			}
		}
		return true
	})
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	want := make([]int, waiters)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order, want) {
		t.Fatalf("grant order %v, want the order of arrival", order)
	}
	for i, c := range counters {
		if got := c.count(opGetChildren2); got != 2 {
			t.Errorf("waiter %d listed the queue %d times, want 2 (woken once)", i, got)
		}
		if got := c.count(opGetData); got != 1 {
			t.Errorf("waiter %d set %d watches, want 1 (its predecessor only)", i, got)
		}
	}
}

func TestKeysZooKeeperCannotStore(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	l := newLocker(t, connect(t, servers, sessionTimeout, nil), root)
	other := newLocker(t, connect(t, servers, sessionTimeout, nil), root)
	keys := []string{"a/b", "a%2Fb", "/", ".", "..", "zookeeper", "ctl\x01\x1f", "nul\x00", "del\x7f", "private\uf000", "日本語"}
	for _, k := range keys {
		lease, err := l.TryAcquire(testContext(t), k)
		if err != nil {
			t.Fatalf("TryAcquire(%q): %v", k, err)
		}
		defer func() { _ = lease.Release(context.Background()) }()
	}
	// Every key is its own lock: each is held, and by nobody else.
	for _, k := range keys {
		if _, err := other.TryAcquire(testContext(t), k); !errors.Is(err, lock.ErrNotAcquired) {
			t.Errorf("TryAcquire(%q) while held: %v, want ErrNotAcquired", k, err)
		}
	}
	observer := connect(t, servers, sessionTimeout, nil)
	if got := children(t, observer, root); len(got) != len(keys) {
		t.Errorf("%d keys made %d key nodes: %q", len(keys), len(got), got)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	conn := connect(t, testenv.ZooKeeperServers(t), sessionTimeout, nil)
	for name, c := range map[string]struct {
		conn    *zk.Conn
		timeout time.Duration
		opts    []zklock.Option
	}{
		"nil conn":           {nil, sessionTimeout, nil},
		"zero timeout":       {conn, 0, nil},
		"relative root":      {conn, sessionTimeout, []zklock.Option{zklock.WithRoot("locks")}},
		"root with ..":       {conn, sessionTimeout, []zklock.Option{zklock.WithRoot("/a/../b")}},
		"root in /zookeeper": {conn, sessionTimeout, []zklock.Option{zklock.WithRoot("/zookeeper/locks")}},
		"empty ACL":          {conn, sessionTimeout, []zklock.Option{zklock.WithACL([]zk.ACL{})}},
	} {
		if l, err := zklock.New(c.conn, c.timeout, c.opts...); err == nil || l != nil {
			t.Errorf("New with %s: got (%v, %v), want an error", name, l, err)
		}
	}

	l := newLocker(t, conn, testenv.ZooKeeperRoot(t))
	_, err := l.TryAcquire(testContext(t), "k", lock.WithTTL(sessionTimeout+time.Second))
	if !errors.Is(err, lock.ErrInvalidOption) {
		t.Errorf("TTL above the session timeout: got %v, want ErrInvalidOption", err)
	}
	lease, err := l.TryAcquire(testContext(t), "k", lock.WithTTL(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(context.Background()) }()
	if err := lease.Refresh(testContext(t), sessionTimeout+time.Second); !errors.Is(err, lock.ErrInvalidOption) {
		t.Errorf("Refresh with a TTL above the session timeout: got %v, want ErrInvalidOption", err)
	}
	if err := lease.Err(); err != nil {
		t.Errorf("a refused Refresh ended the lease: %v", err)
	}
}

// TestCreateWithLostReplyIsFoundAgain breaks the connection right after the
// create of a lock node is sent: the node the server may have made is found
// again by its guid, so the queue holds one node, not an orphan and a second.
func TestCreateWithLostReplyIsFoundAgain(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	observer := connect(t, servers, sessionTimeout, nil)
	var counter opCounter
	l := newLocker(t, connect(t, servers, sessionTimeout, counter.dial), root)
	makeKeyNode(t, l, "lost-reply")
	dir := root + "/lost-reply"

	counter.cutAfter.Store(opMulti)
	before := counter.count(opMulti)
	lease, err := l.Acquire(testContext(t), "lost-reply")
	if err != nil {
		t.Fatalf("Acquire across a lost create reply: %v", err)
	}
	defer func() { _ = lease.Release(context.Background()) }()
	if counter.cutAfter.Load() != 0 {
		t.Fatal("the connection was not cut after the create")
	}
	t.Logf("creates sent: %d (1: the server made the node and it was found again)", counter.count(opMulti)-before)
	nodes := children(t, observer, dir)
	if len(nodes) != 1 {
		t.Fatalf("queue holds %v, want exactly the lease's node", nodes)
	}
	if _, err := newLocker(t, observer, root).TryAcquire(testContext(t), "lost-reply"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire by another session: %v, want ErrNotAcquired", err)
	}
}

// A waiter right behind the holder whose own node is deleted before the
// holder's must not take the lock. Here both go in one multi, its own node's
// first, while its request to watch the holder's node is held back: the
// event of its own node's deletion comes first, and the waiter gives up on
// it. (When the events come the other way round, as they may after a
// reconnect, where go-zookeeper sets its watches again in map order, the
// listing that follows the holder's deletion does not show the waiter's
// node: TestListingWithoutTheOwnNodeIsLost. A shortcut that took the lock
// on the holder's deletion without that listing was tried and dropped for
// that reason.)
func TestNextInLineWhoseNodeGoesFirstGivesUp(t *testing.T) {
	const key = "own-first"
	q := queueWithHolder(t, key)
	servers, root, dir, observer, holder := q.servers, q.root, q.dir, q.observer, q.holder
	c := &opCounter{paused: make(chan struct{}), resume: make(chan struct{})}
	c.pauseOn.Store(opGetData)
	waiter := newLocker(t, connect(t, servers, sessionTimeout, c.dial), root)
	result := make(chan error, 1)
	go func() {
		lease, err := waiter.Acquire(testContext(t), key)
		if err == nil {
			err = errors.Join(errors.New("granted"), lease.Release(testContext(t)))
		}
		result <- err
	}()
	<-c.paused
	nodes := children(t, observer, dir)
	if len(nodes) != 2 {
		t.Fatalf("queue %v, want the holder's node and the waiter's", nodes)
	}
	slices.SortFunc(nodes, func(a, b string) int { return cmp.Compare(a[len(a)-10:], b[len(b)-10:]) })
	if _, err := observer.Multi(&zk.DeleteRequest{Path: dir + "/" + nodes[1], Version: -1},
		&zk.DeleteRequest{Path: dir + "/" + nodes[0], Version: -1}); err != nil {
		t.Fatalf("delete both nodes: %v", err)
	}
	close(c.resume)
	if err := <-result; !errors.Is(err, lock.ErrLost) {
		t.Fatalf("waiter whose node was deleted first: %v, want ErrLost", err)
	}
	<-holder.Done() // its node is gone too
}

// TestNewRejectsNilOption checks that a nil Option is an error wrapping
// lock.ErrInvalidOption, not a panic.
func TestNewRejectsNilOption(t *testing.T) {
	conn := connect(t, testenv.ZooKeeperServers(t), sessionTimeout, nil)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("New with a nil Option panicked: %v", r)
		}
	}()
	l, err := zklock.New(conn, sessionTimeout, zklock.WithRoot(testenv.ZooKeeperRoot(t)), nil)
	if !errors.Is(err, lock.ErrInvalidOption) || l != nil {
		t.Fatalf("New with a nil Option: got (%v, %v), want ErrInvalidOption", l, err)
	}
}
