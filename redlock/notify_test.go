package redlock_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

// countingClient counts grant attempts: the scripts with four keys (a
// queued waiter's attempt on a single deployment, or any attempt on a quorum
// node) or two (the first attempt on a single deployment, take.lua).
type countingClient struct {
	*redis.Client
	attempts atomic.Int64
	shared   *atomic.Int64 // when set, attempts are counted here too
}

func (c *countingClient) count(keys []string) {
	if len(keys) == 4 || len(keys) == 2 {
		c.attempts.Add(1)
		if c.shared != nil {
			c.shared.Add(1)
		}
	}
}

func (c *countingClient) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	c.count(keys)
	return c.Client.EvalSha(ctx, sha, keys, args...)
}

func (c *countingClient) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	c.count(keys)
	return c.Client.Eval(ctx, script, keys, args...)
}

// N waiters of one Locker share one subscription, and each release wakes
// exactly one of them: one grant attempt per release, no herd.
func TestOneSubscriptionWakesOneWaiter(t *testing.T) {
	const waiters = 5
	rdb := testenv.Redis(t)
	k := key(t)
	holder, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k) // TryAcquire: no subscription
	if err != nil {
		t.Fatal(err)
	}

	counted := &countingClient{Client: testenv.Redis(t)}
	l := newSingle(t, counted, noPoll()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	granted := make(chan lock.Lease, waiters)
	for range waiters {
		go func() {
			lease, err := l.Acquire(ctx, k)
			if err == nil {
				granted <- lease
			}
		}()
	}
	// Each waiter queues, then waits. (Whether it tried the key once before
	// subscribing depends on whether its Locker's subscription was up yet.)
	waitFor(t, "every waiter queued", func() bool { return queueLen(t, rdb, k) == waiters })
	if subs := wakeChannels(t, rdb, k); len(subs) != 1 || sum(subs) != 1 {
		t.Fatalf("wake channels of %d waiters of one Locker, with their subscriptions: %v, want one channel subscribed once", waiters, subs)
	}

	release := func(lease lock.Lease) {
		t.Helper()
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	want := counted.attempts.Load()
	for round := range 3 {
		release(holder)
		select {
		case holder = <-granted:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: no waiter granted after a release", round)
		}
		want++
		time.Sleep(100 * time.Millisecond) // room for extra attempts, if any were made
		if got := counted.attempts.Load(); got != want {
			t.Fatalf("round %d: %d grant attempts after a release, want exactly 1", round, got-want+1)
		}
	}
	release(holder)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noPoll sets a poll interval far beyond any test: only notifications wake
// waiters.
func noPoll() []redlock.Option {
	return []redlock.Option{
		redlock.WithQueuePoll(time.Hour),
		redlock.WithDefaults(lock.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) })),
	}
}

// A waiter on a key its Locker waited for lately, with the Locker's channel
// subscribed, queues at once: one attempt before it waits, not the first
// attempt and then the queueing one.
func TestSubscribedLockerQueuesWithoutFirstAttempt(t *testing.T) {
	rdb := testenv.Redis(t)
	k := key(t)
	holder, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(testContext(t))
	counted := &countingClient{Client: testenv.Redis(t)}
	l := newSingle(t, counted, noPoll()...)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	for i := range 2 {
		before := counted.attempts.Load()
		go func() { _, _ = l.Acquire(ctx, k) }()
		waitFor(t, "the waiter queued", func() bool { return queueLen(t, rdb, k) == int64(i+1) })
		want := int64(2) // first attempt, then queueing
		if i > 0 {
			want = 1 // subscribed already: queueing only
		}
		if got := counted.attempts.Load() - before; got != want {
			t.Fatalf("waiter %d made %d attempts before waiting, want %d", i, got, want)
		}
	}
}

// wakeChannels returns the wake channels of the Lockers whose waiters are
// queued for k on rdb's server (a waiter's token starts with its Locker's
// 16-character id), with the number of subscriptions to each.
func wakeChannels(t *testing.T, rdb *redis.Client, k string) map[string]int64 {
	t.Helper()
	tokens, err := rdb.LRange(testContext(t), "{"+k+"}:q", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var channels []string
	for _, tok := range tokens {
		if len(tok) < 16 {
			t.Fatalf("queued token %q is too short to name its Locker", tok)
		}
		channels = append(channels, "racefree:redlock:wake:"+tok[:16])
	}
	subs, err := rdb.PubSubNumSub(testContext(t), channels...).Result()
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// A release is heard by the one Locker whose waiter it wakes, not by every
// Locker with a waiter on the key: one message per release, however many
// Lockers wait.
func TestReleaseReachesOnlyTheHeadsLocker(t *testing.T) {
	const lockers = 4
	rdb := testenv.Redis(t)
	k := key(t)
	holder, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	granted := make(chan lock.Lease, lockers)
	for i := range lockers {
		l := newSingle(t, testenv.Redis(t), noPoll()...)
		go func() {
			lease, err := l.Acquire(ctx, k)
			if err == nil {
				granted <- lease
			}
		}()
		waitFor(t, "the waiter queued", func() bool { return queueLen(t, rdb, k) == int64(i+1) })
	}
	subs := wakeChannels(t, rdb, k)
	if len(subs) != lockers || sum(subs) != lockers {
		t.Fatalf("wake channels of %d Lockers' waiters, with their subscriptions: %v, want one channel per Locker, subscribed once", lockers, subs)
	}
	head, err := rdb.LIndex(testContext(t), "{"+k+"}:q", 0).Result()
	if err != nil {
		t.Fatal(err)
	}

	// A spy on every waiting Locker's channel, and on no other.
	spy := rdb.Subscribe(testContext(t))
	defer spy.Close()
	for c := range subs {
		if err := spy.Subscribe(testContext(t), c); err != nil {
			t.Fatal(err)
		}
		if _, err := spy.ReceiveTimeout(testContext(t), 5*time.Second); err != nil { // the confirmation
			t.Fatal(err)
		}
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
	msgs := spy.Channel()
	select {
	case m := <-msgs:
		if want := "racefree:redlock:wake:" + head[:16]; m.Channel != want || m.Payload != head {
			t.Fatalf("wake-up %q on %s, want the head's token %q on its Locker's channel %s", m.Payload, m.Channel, head, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up published after the release")
	}
	select {
	case m := <-msgs:
		t.Fatalf("a second wake-up for one release: %q on %s", m.Payload, m.Channel)
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case lease := <-granted:
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the head was not granted after its wake-up")
	}
	cancel() // the other waiters leave the queue
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
