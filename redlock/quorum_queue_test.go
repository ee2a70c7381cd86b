package redlock_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

// quorumQueued is the number of waiters queued for k on each node.
func quorumQueued(t *testing.T, nodes []*redis.Client, k string) []int64 {
	t.Helper()
	lens := make([]int64, len(nodes))
	for i, n := range nodes {
		l, err := n.ZCard(testContext(t), "{"+k+"}:wq").Result()
		if err != nil {
			t.Fatal(err)
		}
		lens[i] = l
	}
	return lens
}

// allQueued reports whether every node has want waiters queued for k.
func allQueued(t *testing.T, nodes []*redis.Client, k string, want int64) bool {
	for _, l := range quorumQueued(t, nodes, k) {
		if l != want {
			return false
		}
	}
	return true
}

// Waiters of separate quorum Lockers are granted in the order of their
// tickets, one at a time, and each release wakes the next.
func TestQuorumQueueGrantsInTicketOrder(t *testing.T) {
	const waiters = 5
	nodes := testenv.RedisNodes(t, 5)
	k := key(t)
	holder := acquire(t, newQuorum(t, testenv.RedisNodes(t, 5)), k)
	outs := make([]chan acquired, waiters)
	for i := range outs {
		l := newQuorum(t, testenv.RedisNodes(t, 5))
		outs[i] = make(chan acquired, 1)
		go func() {
			lease, err := l.Acquire(testContext(t), k)
			outs[i] <- acquired{lease, err}
		}()
		waitFor(t, "the waiter to queue on every node", func() bool { return allQueued(t, nodes, k, int64(i+1)) })
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	for i, out := range outs {
		a := receive(t, "waiter", out)
		if a.err != nil {
			t.Fatalf("waiter %d: %v", i, a.err)
		}
		for j, other := range outs[i+1:] {
			select {
			case b := <-other:
				t.Fatalf("waiter %d granted (err %v) while waiter %d, queued before it, holds the key", i+1+j, b.err, i)
			default:
			}
		}
		if err := a.lease.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	// Release returns at a majority; the slower nodes follow.
	waitFor(t, "every node's queue to empty after all were granted", func() bool { return allQueued(t, nodes, k, 0) })
}

// A live waiter at the head of the queues keeps others out even when the key
// is free: TryAcquire is refused and Acquire waits; once the waiter's
// deadline passes it is dropped and the key is granted.
func TestQuorumQueueHeadKeepsOthersOut(t *testing.T) {
	nodes := testenv.RedisNodes(t, 5)
	k := key(t)
	const deadline = 700 * time.Millisecond
	for _, n := range nodes {
		now, err := n.Time(testContext(t)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := n.ZAdd(testContext(t), "{"+k+"}:wq", redis.Z{Score: 1, Member: "dead-waiter"}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := n.HSet(testContext(t), "{"+k+"}:wqd", "dead-waiter", now.Add(deadline).UnixMilli()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	l := newQuorum(t, testenv.RedisNodes(t, 5), redlock.WithQueuePoll(50*time.Millisecond))
	if lease, err := l.TryAcquire(testContext(t), k); err == nil {
		_ = lease.Release(testContext(t))
		t.Fatal("TryAcquire granted a free key while a live waiter heads the queues")
	} else if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire: %v, want ErrNotAcquired", err)
	}
	start := time.Now()
	lease := acquire(t, l, k)
	if waited := time.Since(start); waited < deadline/2 {
		t.Fatalf("Acquire granted after %v, before the waiter at the head died (%v)", waited, deadline)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every node's queue to empty after the grant", func() bool { return allQueued(t, nodes, k, 0) })
}

// A cancelled quorum waiter leaves every node's queue.
func TestQuorumQueueCancelledWaiterLeaves(t *testing.T) {
	nodes := testenv.RedisNodes(t, 5)
	k := key(t)
	holder := acquire(t, newQuorum(t, testenv.RedisNodes(t, 5)), k)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan acquired, 1)
	l := newQuorum(t, testenv.RedisNodes(t, 5))
	go func() {
		lease, err := l.Acquire(ctx, k)
		out <- acquired{lease, err}
	}()
	waitFor(t, "the waiter to queue on every node", func() bool { return allQueued(t, nodes, k, 1) })
	cancel()
	if a := receive(t, "cancelled waiter", out); !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled Acquire: %v, want context.Canceled", a.err)
	}
	if q := quorumQueued(t, nodes, k); !allQueued(t, nodes, k, 0) {
		t.Fatalf("queues after the waiter was cancelled: %v, want empty", q)
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// publishes is how many PUBLISH commands node has run since its statistics
// were reset.
func publishes(t *testing.T, node *redis.Client) int64 {
	t.Helper()
	info, err := node.Info(testContext(t), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_publish:calls="); ok {
			n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

// A release wakes the next waiter from the key's preferred majority of
// nodes only, not from all of them: the head's Locker would hear each
// node's message. (The holder here was a waiter, so its release goes to all
// five nodes.)
func TestQuorumReleaseWakesFromAMajority(t *testing.T) {
	_, nodes := privateNodes(t, 5)
	k := key(t)
	first := acquire(t, newQuorum(t, nodes), k)
	wait := func() <-chan acquired {
		out := make(chan acquired, 1)
		l := newQuorum(t, nodes, redlock.WithQueuePoll(time.Minute))
		go func() {
			lease, err := l.Acquire(testContext(t), k)
			out <- acquired{lease, err}
		}()
		return out
	}
	second := wait()
	waitFor(t, "the second caller queued on every node", func() bool { return allQueued(t, nodes, k, 1) })
	if err := first.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	a := receive(t, "second caller", second)
	if a.err != nil {
		t.Fatal(a.err)
	}
	third := wait()
	// The holder's id stays queued until its release.
	waitFor(t, "the third caller queued on every node", func() bool { return allQueued(t, nodes, k, 2) })
	for _, n := range nodes {
		if err := n.ConfigResetStat(testContext(t)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	b := receive(t, "third caller (it polls only every minute)", third)
	if b.err != nil {
		t.Fatal(b.err)
	}
	defer b.lease.Release(testContext(t))
	published := 0
	for _, n := range nodes {
		published += int(min(publishes(t, n), 1))
	}
	if published != 3 {
		t.Fatalf("%d of 5 nodes published the release, want the key's 3 preferred ones", published)
	}
}
