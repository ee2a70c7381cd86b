package redlock_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

// Keys differ in the majority of nodes they ask first; with two nodes down,
// every key is granted, whichever nodes it prefers.
func TestQuorumGrantsWithTwoOfFiveDown(t *testing.T) {
	servers, nodes := privateNodes(t, 5)
	l := newQuorum(t, nodes)
	servers[0].Stop()
	servers[3].Stop()
	for i := range 10 {
		k := key(t) + "-" + strconv.Itoa(i)
		lease, err := l.TryAcquire(testContext(t), k, lock.WithTTL(2*time.Second))
		if err != nil {
			t.Fatalf("TryAcquire(%s) with 3 of 5 nodes up: %v", k, err)
		}
		if err := lease.Refresh(testContext(t), 2*time.Second); err != nil {
			t.Fatalf("Refresh(%s) with 3 of 5 nodes up: %v", k, err)
		}
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatalf("Release(%s) with 3 of 5 nodes up: %v", k, err)
		}
	}
}

// A held lease survives the loss of a node: a grant that asked only a
// majority takes the key on the other nodes when one of its own fails.
func TestQuorumLeaseSurvivesANodeLostAfterTheGrant(t *testing.T) {
	servers, nodes := privateNodes(t, 5)
	l := newQuorum(t, nodes)
	k := key(t)
	lease, err := l.TryAcquire(testContext(t), k, lock.WithTTL(2*time.Second), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	holding := -1
	for i, n := range nodes {
		if c, err := n.Exists(testContext(t), "{"+k+"}").Result(); err == nil && c == 1 {
			holding = i
			break
		}
	}
	if holding < 0 {
		t.Fatal("no node holds the granted key")
	}
	servers[holding].Stop()
	if err := lease.Refresh(testContext(t), 2*time.Second); err != nil {
		t.Fatalf("Refresh with one of the granting nodes down (4 of 5 up): %v", err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release with 4 of 5 nodes up: %v", err)
	}
	// Release returns at a majority; the other nodes follow in the
	// background.
	waitFor(t, "the released key gone from every node that is up", func() bool {
		for i, n := range nodes {
			if i == holding {
				continue
			}
			if c, err := n.Exists(testContext(t), "{"+k+"}").Result(); err != nil || c != 0 {
				return false
			}
		}
		return true
	})
}

// An uncontended grant asks only a majority of the nodes; the others are
// spared (and its release goes to those it asked).
func TestQuorumAsksAMajorityFirst(t *testing.T) {
	nodes := testenv.RedisNodes(t, 5)
	counted := make([]*countingClient, len(nodes))
	clients := make([]redlock.Client, len(nodes))
	for i, n := range nodes {
		counted[i] = &countingClient{Client: n}
		clients[i] = counted[i]
	}
	l, err := redlock.NewQuorum(clients)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	for i := range 5 {
		k := key(t) + "-" + strconv.Itoa(i)
		lease, err := l.TryAcquire(testContext(t), k)
		if err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	var asked int64
	for _, c := range counted {
		asked += c.attempts.Load()
	}
	if asked != 5*3 {
		t.Fatalf("5 uncontended grants sent %d acquire calls, want 15 (a majority of 3 each)", asked)
	}
}

// A preferred node that hangs (CLIENT PAUSE) does not hold a grant up until
// the node timeout: the attempt asks the other nodes after the hedge delay.
func TestQuorumHungNodeDoesNotStallGrant(t *testing.T) {
	const nodeTimeout, pause = time.Second, 800 * time.Millisecond // hedge: 250 ms
	_, nodes := privateNodes(t, 5)
	l := newQuorum(t, nodes, redlock.WithNodeTimeout(nodeTimeout))
	for i := range nodes {
		k := key(t) + "-" + strconv.Itoa(i)
		if err := nodes[i].Do(testContext(t), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		lease, err := l.TryAcquire(testContext(t), k, lock.WithTTL(30*time.Second))
		if err != nil {
			t.Fatalf("node %d paused: TryAcquire: %v", i, err)
		}
		if took := time.Since(start); took >= pause {
			t.Fatalf("node %d paused: the grant took %v, as long as the pause", i, took)
		}
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatalf("node %d paused: Release: %v", i, err)
		}
		time.Sleep(pause) // let the pause end
	}
}

func TestQuorumRefusesWithThreeOfFiveDown(t *testing.T) {
	servers, nodes := privateNodes(t, 5)
	l := newQuorum(t, nodes)
	for _, i := range []int{0, 2, 4} {
		servers[i].Stop()
	}
	k := key(t)
	lease, err := l.TryAcquire(testContext(t), k, lock.WithTTL(2*time.Second))
	if err == nil {
		_ = lease.Release(testContext(t))
		t.Fatal("TryAcquire granted with only 2 of 5 nodes up")
	}
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire with 2 of 5 nodes up: %v, want ErrNotAcquired", err)
	}
	// The partial grant was undone on the nodes that are up.
	for _, i := range []int{1, 3} {
		if n, err := nodes[i].Exists(testContext(t), "{"+k+"}").Result(); err != nil || n != 0 {
			t.Errorf("node %d still holds the refused key (EXISTS = %d, %v)", i, n, err)
		}
	}
}

// Tokens increase even when successive majorities differ: a node whose
// counter ran ahead (it granted while the others could not be reached) must not
// let a later majority without it issue a lower token.
func TestQuorumTokensIncreaseAcrossMajorities(t *testing.T) {
	servers, nodes := privateNodes(t, 5)
	l := newQuorum(t, nodes)
	k := key(t)
	if err := nodes[0].Set(testContext(t), "{"+k+"}:fence", 100, 0).Err(); err != nil {
		t.Fatal(err)
	}
	first, err := l.TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	servers[0].Stop() // not restarted: its data is not lost, only out of reach
	second, err := l.TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Release(testContext(t)) }()
	if second.Token() <= first.Token() {
		t.Fatalf("token %d from the second majority is not greater than %d from the first", second.Token(), first.Token())
	}
}

// A majority of nodes restarted empty can grant a held key a second time:
// Redlock's safety assumption is broken. The fencing token still protects a
// resource that checks it: the second holder's token is lower, and refused.
func TestQuorumRestartedNodesFencedOut(t *testing.T) {
	servers, nodes := privateNodes(t, 5)
	k := key(t)
	for range 3 { // earlier grants: the counters move past 1
		lease := acquire(t, newQuorum(t, nodes), k)
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	var res fencedResource
	first := acquire(t, newQuorum(t, nodes), k, lock.WithTTL(10*time.Second), lock.WithoutAutoRefresh())
	if !res.write(first.Token()) {
		t.Fatalf("resource refused the first holder's token %d", first.Token())
	}
	for _, i := range []int{0, 1, 2} {
		servers[i].Stop()
		servers[i].Start() // empty: no persistence
	}
	second, err := newQuorum(t, nodes).TryAcquire(testContext(t), k, lock.WithTTL(10*time.Second))
	if err != nil {
		t.Fatalf("TryAcquire after 3 of 5 nodes restarted empty: %v; the nodes that lost the grant should form a second majority", err)
	}
	defer func() { _ = second.Release(testContext(t)) }()
	if first.Err() != nil {
		t.Fatalf("first lease ended early: %v", first.Err())
	}
	// Two leases are live now; only fencing keeps the resource consistent.
	if res.write(second.Token()) {
		t.Fatalf("resource accepted the second holder's token %d after %d: two holders wrote", second.Token(), first.Token())
	}
	if !res.write(first.Token()) {
		t.Fatal("resource refused the first holder")
	}
}

// fencedResource accepts a write only with a token at least as high as every
// token it has accepted, as a storage service checking fencing tokens does.
type fencedResource struct{ last uint64 }

func (r *fencedResource) write(token uint64) bool {
	if token < r.last {
		return false
	}
	r.last = token
	return true
}

func TestQuorumPropertiesDeclareAssumption(t *testing.T) {
	_, nodes := privateNodes(t, 3)
	p := newQuorum(t, nodes).Properties()
	if !p.Fencing || p.FencingAssumption != redlock.FencingAssumption || p.Linearizable || p.SurvivesFailover || p.FIFO {
		t.Fatalf("quorum properties %+v do not declare Redlock's limits", p)
	}
}
