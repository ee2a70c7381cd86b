package redlock_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

// queueLen is the number of waiters queued for k on the server.
func queueLen(t *testing.T, rdb *redis.Client, k string) int64 {
	t.Helper()
	n, err := rdb.LLen(testContext(t), "{"+k+"}:q").Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// serverMillis is the server's clock, as the scripts read it.
func serverMillis(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	now, err := rdb.Time(testContext(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixMilli()
}

// startWaiter starts l.Acquire(k) and returns its outcome channel once the
// waiter is queued on the server (the queue has grown to queued).
func startWaiter(t *testing.T, ctx context.Context, rdb *redis.Client, l lock.Locker, k string, queued int64, opts ...lock.Option) <-chan acquired {
	t.Helper()
	out := make(chan acquired, 1)
	go func() {
		lease, err := l.Acquire(ctx, k, opts...)
		out <- acquired{lease, err}
	}()
	waitFor(t, "the waiter to queue", func() bool { return queueLen(t, rdb, k) == queued })
	return out
}

type acquired struct {
	lease lock.Lease
	err   error
}

func receive(t *testing.T, what string, c <-chan acquired) acquired {
	t.Helper()
	select {
	case a := <-c:
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Acquire did not return", what)
		return acquired{}
	}
}

// Waiters of separate Lockers (as separate processes) are granted in the
// order they queued, each once, however the previous holder came back.
func TestQueueFIFOAcrossLockers(t *testing.T) {
	const waiters = 6
	rdb := testenv.Redis(t)
	k := key(t)
	holder := acquire(t, newSingle(t, testenv.Redis(t)), k)
	outs := make([]<-chan acquired, waiters)
	lockers := make([]*redlock.Locker, waiters)
	for i := range outs {
		lockers[i] = newSingle(t, testenv.Redis(t))
		outs[i] = startWaiter(t, testContext(t), rdb, lockers[i], k, int64(i+1))
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	for i, out := range outs {
		a := receive(t, "waiter "+strconv.Itoa(i), out)
		if a.err != nil {
			t.Fatalf("waiter %d: %v", i, a.err)
		}
		// The holder asks again at once: it must queue behind the others,
		// not barge in (it would be granted before waiter i+1).
		if i+1 < waiters {
			if _, err := lockers[i].TryAcquire(testContext(t), k); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("TryAcquire while waiter %d holds the key: %v, want ErrNotAcquired", i, err)
			}
		}
		if err := a.lease.Release(testContext(t)); err != nil {
			t.Fatalf("waiter %d: Release: %v", i, err)
		}
		if i+1 < waiters {
			if _, err := lockers[i].TryAcquire(testContext(t), k); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("TryAcquire after waiter %d released, with %d queued: %v, want ErrNotAcquired", i, waiters-i-1, err)
			}
		}
	}
	if n := queueLen(t, rdb, k); n != 0 {
		t.Fatalf("%d waiters left in the queue after all were granted", n)
	}
}

// TryAcquire never takes a released key from a queued waiter: not right
// after the release that woke it, not while the waiter has not claimed it.
func TestTryAcquireDoesNotBargePastQueuedWaiter(t *testing.T) {
	rdb := testenv.Redis(t)
	k := key(t)
	holderLocker := newSingle(t, testenv.Redis(t))
	holder := acquire(t, holderLocker, k)
	out := startWaiter(t, testContext(t), rdb, newSingle(t, testenv.Redis(t), noPoll()...), k, 1)
	if v, err := rdb.Get(testContext(t), "{"+k+"}").Result(); err != nil || !strings.HasSuffix(v, "|w") {
		t.Fatalf("holder's value with a waiter queued: %q, %v; want it marked |w", v, err)
	}

	// Release and ask again at once: the key is either free with the waiter
	// at the head of the queue, or already the waiter's. Never the holder's.
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if lease, err := holderLocker.TryAcquire(testContext(t), k); !errors.Is(err, lock.ErrNotAcquired) {
		if err == nil {
			_ = lease.Release(testContext(t))
		}
		t.Fatalf("releaser's TryAcquire with a waiter queued: %v, want ErrNotAcquired", err)
	}
	a := receive(t, "waiter", out)
	if a.err != nil {
		t.Fatal(a.err)
	}
	if err := a.lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}

	// A head whose wake-up message was lost (here: planted, a queue entry
	// nobody listens for): the release reserves the key for it, and no
	// TryAcquire takes it.
	ctx := testContext(t)
	holder = acquire(t, holderLocker, k)
	if err := rdb.RPush(ctx, "{"+k+"}:q", "planted").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "{"+k+"}:qd", "planted", serverMillis(t, rdb)+60_000).Err(); err != nil {
		t.Fatal(err)
	}
	// A waiter that queues marks the holder's value as waited for.
	held, err := rdb.Get(ctx, "{"+k+"}").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "{"+k+"}", held+"|w", redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "{"+k+"}").Result(); err != nil || v != "planted" {
		t.Fatalf("lock key after a release with a live head queued: %q, %v; want it reserved for the head", v, err)
	}
	if _, err := holderLocker.TryAcquire(ctx, k); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire of a key reserved for a live waiter: %v, want ErrNotAcquired", err)
	}
	if err := rdb.Del(ctx, "{"+k+"}", "{"+k+"}:q", "{"+k+"}:qd").Err(); err != nil {
		t.Fatal(err)
	}
	lease, err := holderLocker.TryAcquire(ctx, k)
	if err != nil {
		t.Fatalf("TryAcquire of a free key with an empty queue: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A waiter whose Acquire is cancelled leaves the queue at once: the next
// waiter is granted by the next release, not after the deadline.
func TestCancelledWaiterLeavesQueue(t *testing.T) {
	rdb := testenv.Redis(t)
	k := key(t)
	holder := acquire(t, newSingle(t, testenv.Redis(t)), k)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := startWaiter(t, ctx, rdb, newSingle(t, testenv.Redis(t), noPoll()...), k, 1)
	next := startWaiter(t, testContext(t), rdb, newSingle(t, testenv.Redis(t), noPoll()...), k, 2)
	cancel()
	if a := receive(t, "cancelled waiter", gone); !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled Acquire: %v, want context.Canceled", a.err)
	}
	if n := queueLen(t, rdb, k); n != 1 {
		t.Fatalf("%d waiters queued after one of two cancelled, want 1", n)
	}
	if n, err := rdb.HLen(testContext(t), "{"+k+"}:qd").Result(); err != nil || n != 1 {
		t.Fatalf("%d deadlines kept after one of two waiters cancelled (%v), want 1", n, err)
	}
	// Without polling, only the release's message to the head can wake the
	// next waiter: it must be the live one.
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	a := receive(t, "next waiter", next)
	if a.err != nil {
		t.Fatal(a.err)
	}
	if err := a.lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := queueLen(t, rdb, k); n != 0 {
		t.Fatalf("%d waiters left queued", n)
	}
}

// A queued waiter whose process died (here: its connection is closed, so it
// can neither renew nor leave) holds the queue only until its deadline; the
// next waiter is granted at most one of its poll intervals later.
func TestDeadWaiterDoesNotStallQueue(t *testing.T) {
	const deadPoll, poll = time.Second, 100 * time.Millisecond
	rdb := testenv.Redis(t)
	k := key(t)
	holder := acquire(t, newSingle(t, testenv.Redis(t)), k)

	deadClient := testenv.Redis(t)
	dead := startWaiter(t, testContext(t), rdb, newSingle(t, deadClient, redlock.WithQueuePoll(deadPoll)), k, 1)
	if err := deadClient.Close(); err != nil {
		t.Fatal(err)
	}
	if a := receive(t, "dead waiter", dead); a.err == nil {
		t.Fatal("Acquire over a closed client succeeded")
	}
	deadlines, err := rdb.HGetAll(testContext(t), "{"+k+"}:qd").Result()
	if err != nil || len(deadlines) != 1 {
		t.Fatalf("dead waiter's deadline: %v (%v), want one entry", deadlines, err)
	}
	var deadline int64
	for _, v := range deadlines {
		deadline, _ = strconv.ParseInt(v, 10, 64)
	}

	next := startWaiter(t, testContext(t), rdb, newSingle(t, testenv.Redis(t), redlock.WithQueuePoll(poll)), k, 2)
	if err := holder.Release(testContext(t)); err != nil { // wakes the dead head
		t.Fatal(err)
	}
	a := receive(t, "next waiter", next)
	grantedAt := serverMillis(t, rdb)
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer func() { _ = a.lease.Release(testContext(t)) }()
	if grantedAt < deadline {
		t.Fatalf("next waiter granted at %d, before the dead head's deadline %d", grantedAt, deadline)
	}
	// One poll, plus the time to read the clock on a loaded machine.
	if late := time.Duration(grantedAt-deadline) * time.Millisecond; late > poll+500*time.Millisecond {
		t.Fatalf("next waiter granted %v after the dead head's deadline, want within one poll (%v)", late, poll)
	}
	if n := queueLen(t, rdb, k); n != 0 {
		t.Fatalf("%d entries left queued, want the dead one dropped", n)
	}
}

// A release wakes one waiter across all Lockers (processes), not one per
// Locker: one grant attempt per release in total.
func TestOneReleaseOneAttemptAcrossLockers(t *testing.T) {
	const lockers, perLocker = 4, 2
	rdb := testenv.Redis(t)
	k := key(t)
	holder, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int64
	granted := make(chan lock.Lease, lockers*perLocker)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queued := int64(0)
	for range lockers {
		counted := &countingClient{Client: testenv.Redis(t), shared: &attempts}
		l := newSingle(t, counted, noPoll()...)
		for range perLocker {
			queued++
			out := startWaiter(t, ctx, rdb, l, k, queued)
			go func() {
				if a := <-out; a.err == nil {
					granted <- a.lease
				}
			}()
		}
	}
	// Every waiter has queued (startWaiter waited for it); attempts from
	// here on are wake-ups.
	want := attempts.Load()
	for round := range lockers * perLocker {
		if err := holder.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case holder = <-granted:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: no waiter granted after a release", round)
		}
		want++
		time.Sleep(50 * time.Millisecond) // room for extra attempts, if any were made
		if got := attempts.Load(); got != want {
			t.Fatalf("round %d: %d grant attempts across %d Lockers after one release, want exactly 1", round, got-want+1, lockers)
		}
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// A holder that dies without releasing leaves nobody to wake the queue: its
// head's own poll finds the key expired and takes it.
func TestExpiredHolderGrantsHead(t *testing.T) {
	const poll = 100 * time.Millisecond
	rdb := testenv.Redis(t)
	k := key(t)
	crashed, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k, lock.WithTTL(300*time.Millisecond), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	out := startWaiter(t, testContext(t), rdb, newSingle(t, testenv.Redis(t), redlock.WithQueuePoll(poll)), k, 1)
	a := receive(t, "head waiter", out)
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer func() { _ = a.lease.Release(testContext(t)) }()
	if a.lease.Token() <= crashed.Token() {
		t.Fatalf("token %d after an expired holder's %d", a.lease.Token(), crashed.Token())
	}
	if err := crashed.Err(); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("expired holder's Err: %v, want ErrLost", err)
	}
}
