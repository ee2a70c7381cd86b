package caslock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/internal/storeenv"
	"github.com/racefree/racefree/lock"
)

// forEachStore runs fn on every Store, in parallel subtests of a parallel
// test: they run after the conformance suite, whose leak check must not see
// their goroutines.
func forEachStore(t *testing.T, fn func(t *testing.T, newStore func(*testing.T) cas.Store)) {
	t.Parallel()
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.Setup(t))
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// leaseItem is the JSON of a lease item, read the way an operator would.
type leaseItem struct {
	Owner    string `json:"owner"`
	Epoch    uint64 `json:"epoch"`
	Reserved bool   `json:"reserved"`
	Queue    []struct {
		ID string `json:"id"`
	} `json:"queue"`
}

// readLease reads the lease item of key; ok is false when there is none.
func readLease(t *testing.T, store cas.Store, key string) (v leaseItem, it cas.Item, ok bool) {
	t.Helper()
	it, err := store.Get(context.Background(), key)
	if errors.Is(err, cas.ErrNotFound) {
		return leaseItem{}, cas.Item{}, false
	}
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if err := json.Unmarshal(it.Value, &v); err != nil {
		t.Fatalf("lease item %q: %v", key, err)
	}
	return v, it, true
}

// waitQueued waits until n waiters are queued for key.
func waitQueued(t *testing.T, store cas.Store, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _, _ := readLease(t, store, key)
		if len(v.Queue) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued for %q after 10 s, want %d", len(v.Queue), key, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// queuedGrant is one grant to a waiter of queueWaiters.
type queuedGrant struct {
	waiter int
	token  uint64
	at     time.Time
}

// queueWaiters starts n waiters for "k", each on a Locker of its own (a
// process of its own) and each queued before the next starts; each releases
// its grant at once. The channel yields the grants as they come, and is
// closed once every waiter is done.
func queueWaiters(t *testing.T, ctx context.Context, store cas.Store, newStore func(*testing.T) cas.Store, n int) <-chan queuedGrant {
	t.Helper()
	grants := make(chan queuedGrant, n)
	var wg sync.WaitGroup
	for i := range n {
		l := newLocker(t, newStore(t))
		wg.Go(func() {
			lease, err := l.Acquire(ctx, "k")
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			grants <- queuedGrant{i, lease.Token(), time.Now()}
			if err := lease.Release(ctx); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		})
		waitQueued(t, store, "k", i+1)
	}
	go func() {
		wg.Wait()
		close(grants)
	}()
	return grants
}

// enqueueByHand appends a waiter to the queue of key, as a waiter whose
// process then died would have.
func enqueueByHand(t *testing.T, store cas.Store, key, id string, ttl time.Duration) {
	t.Helper()
	for {
		it, err := store.Get(context.Background(), key)
		if err != nil {
			t.Fatalf("Get %q: %v", key, err)
		}
		var v map[string]any
		if err := json.Unmarshal(it.Value, &v); err != nil {
			t.Fatal(err)
		}
		q, _ := v["queue"].([]any)
		v["queue"] = append(q, map[string]any{"id": id, "ttl": int64(ttl)})
		value, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.CompareAndSwap(context.Background(), key, it.Version, value)
		if err == nil {
			return
		}
		if !errors.Is(err, cas.ErrConflict) {
			t.Fatalf("CompareAndSwap %q: %v", key, err)
		}
	}
}

// TestFIFOAcrossLockers checks that waiters on separate Lockers (separate
// processes) are granted in the order they queued.
func TestFIFOAcrossLockers(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		const waiters = 4
		store, ctx := newStore(t), testContext(t)
		holder, err := newLocker(t, newStore(t)).Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		grants := queueWaiters(t, ctx, store, newStore, waiters)
		if err := holder.Release(ctx); err != nil {
			t.Fatal(err)
		}
		want := 0
		for g := range grants {
			if g.waiter != want {
				t.Fatalf("waiter %d granted in place %d", g.waiter, want)
			}
			want++
		}
		if want != waiters {
			t.Fatalf("%d of %d waiters granted", want, waiters)
		}
		if _, _, ok := readLease(t, store, "k"); ok {
			t.Error("the lease item is still there after the last release")
		}
	})
}

// TestNoBarging checks that neither a TryAcquire nor the releaser's
// immediate Acquire passes a queued waiter.
func TestNoBarging(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		store, ctx := newStore(t), testContext(t)
		releaser := newLocker(t, newStore(t))
		first, err := releaser.Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		waiterToken := make(chan uint64, 1)
		waiter := newLocker(t, newStore(t))
		go func() {
			lease, err := waiter.Acquire(ctx, "k")
			if err != nil {
				t.Errorf("waiter: %v", err)
				waiterToken <- 0
				return
			}
			waiterToken <- lease.Token()
			time.Sleep(200 * time.Millisecond)
			if err := lease.Release(ctx); err != nil {
				t.Errorf("waiter: Release: %v", err)
			}
		}()
		waitQueued(t, store, "k", 1)
		if err := first.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if lease, err := newLocker(t, newStore(t)).TryAcquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
			if err == nil {
				_ = lease.Release(ctx)
			}
			t.Errorf("TryAcquire right after a release to a waiter: %v, want ErrNotAcquired", err)
		}
		again, err := releaser.Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer again.Release(ctx)
		select {
		case token := <-waiterToken:
			if token == 0 || token >= again.Token() {
				t.Fatalf("waiter's token %d, releaser's second %d: the releaser passed the waiter", token, again.Token())
			}
		default:
			t.Fatal("the releaser got the key again before the queued waiter")
		}
	})
}

// TestCancelledWaiterLeavesTheQueue checks that a waiter whose context ends
// takes itself out of the queue, so that the next release goes to the
// waiter behind it at once, not after the first one's lease period.
func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		store, ctx := newStore(t), testContext(t)
		holder, err := newLocker(t, newStore(t)).Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		leaving, cancel := context.WithCancel(ctx)
		left := make(chan error, 1)
		go func() {
			lease, err := newLocker(t, newStore(t)).Acquire(leaving, "k", lock.WithTTL(20*time.Second))
			if err == nil {
				_ = lease.Release(ctx)
			}
			left <- err
		}()
		waitQueued(t, store, "k", 1)
		granted := make(chan error, 1)
		go func() {
			lease, err := newLocker(t, newStore(t)).Acquire(ctx, "k")
			if err == nil {
				err = lease.Release(ctx)
			}
			granted <- err
		}()
		waitQueued(t, store, "k", 2)
		cancel()
		if err := <-left; err != context.Canceled { //nolint:errorlint // lock.Waiter's contract: the context's error as it is
			t.Fatalf("cancelled Acquire: %v, want context.Canceled", err)
		}
		if v, _, _ := readLease(t, store, "k"); len(v.Queue) != 1 {
			t.Fatalf("%d waiters queued after one of two left, want 1", len(v.Queue))
		}
		start := time.Now()
		if err := holder.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-granted:
			if err != nil {
				t.Fatalf("remaining waiter: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("remaining waiter not granted 5 s after the release")
		}
		t.Logf("granted %v after the release", time.Since(start))
	})
}

// TestDeadWaiterSkippedAfterOneLeasePeriod checks that a queued waiter
// whose process died costs one lease period (its own TTL) once at the head
// of the queue, and no more.
func TestDeadWaiterSkippedAfterOneLeasePeriod(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		const deadTTL = 300 * time.Millisecond
		store, ctx := newStore(t), testContext(t)
		holder, err := newLocker(t, newStore(t)).Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		enqueueByHand(t, store, "k", "dead-waiter", deadTTL)
		granted := make(chan lock.Lease, 1)
		go func() {
			lease, err := newLocker(t, newStore(t)).Acquire(ctx, "k")
			if err != nil {
				t.Errorf("live waiter: %v", err)
			}
			granted <- lease
		}()
		waitQueued(t, store, "k", 2)
		start := time.Now()
		if err := holder.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := readLease(t, store, "k"); v.Owner != "dead-waiter" || !v.Reserved {
			t.Fatalf("after the release the item is %+v, want it reserved for the dead waiter", v)
		}
		if _, err := newLocker(t, newStore(t)).TryAcquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of an item reserved for a waiter: %v, want ErrNotAcquired", err)
		}
		lease := <-granted
		if lease == nil {
			return
		}
		defer lease.Release(ctx)
		waited := time.Since(start)
		if waited < deadTTL*9/10 || waited > deadTTL+3*time.Second {
			t.Errorf("live waiter granted %v after the release, want about the dead waiter's TTL %v", waited, deadTTL)
		}
		if lease.Token() <= holder.Token() {
			t.Errorf("token %d after the skip is not above the holder's %d", lease.Token(), holder.Token())
		}
	})
}

// TestHolderWritesSurviveEnqueues checks that a holder's Refresh and
// Release work while waiters write the item to queue, and keep the queue.
func TestHolderWritesSurviveEnqueues(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		const waiters = 5
		store, ctx := newStore(t), testContext(t)
		holder, err := newLocker(t, newStore(t)).Acquire(ctx, "k", lock.WithTTL(5*time.Second), lock.WithoutAutoRefresh())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range waiters {
			l := newLocker(t, newStore(t))
			wg.Go(func() {
				lease, err := l.Acquire(ctx, "k")
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				if err := lease.Release(ctx); err != nil {
					t.Errorf("waiter %d: Release: %v", i, err)
				}
			})
		}
		for i := 0; ; i++ {
			if err := holder.Refresh(ctx, 5*time.Second); err != nil {
				t.Fatalf("Refresh %d while waiters queue: %v", i, err)
			}
			if v, _, _ := readLease(t, store, "k"); len(v.Queue) == waiters && i >= 3 {
				break
			}
			if i > 1000 {
				t.Fatal("waiters did not all queue")
			}
			time.Sleep(time.Millisecond)
		}
		if err := holder.Release(ctx); err != nil {
			t.Fatalf("Release with waiters queued: %v", err)
		}
		wg.Wait()
	})
}

// TestTakeOverWhileWaitersQueue checks that waiters' queue writes, which
// change the item's version all the time here, do not hide a dead holder:
// the take-over comes one lease period after the first waiter looked, and
// goes to the queue's head.
func TestTakeOverWhileWaitersQueue(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		const ttl, waiters = 400 * time.Millisecond, 4
		store, ctx := newStore(t), testContext(t)
		value, err := json.Marshal(map[string]any{"owner": "dead-holder", "ttl_ns": int64(ttl), "epoch": 7, "written": time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		dead, err := store.Create(ctx, "k", value)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		grants := queueWaiters(t, ctx, store, newStore, waiters)
		// A waiter that queues and gives up again and again, so that the
		// item's version changes all through the lease period.
		churnCtx, stopChurn := context.WithTimeout(ctx, 3*time.Second)
		defer stopChurn()
		churner := newLocker(t, newStore(t))
		var churn sync.WaitGroup
		churn.Go(func() {
			for churnCtx.Err() == nil {
				try, cancel := context.WithTimeout(churnCtx, ttl/10)
				lease, err := churner.Acquire(try, "k")
				cancel()
				if err == nil { // handed over while between the waiters
					_ = lease.Release(ctx)
				}
			}
		})
		var got []queuedGrant
		for g := range grants {
			got = append(got, g)
		}
		stopChurn()
		churn.Wait()
		want, last := 0, dead.Version
		for _, g := range got {
			if g.waiter != want {
				t.Fatalf("waiter %d granted in place %d", g.waiter, want)
			}
			if g.token <= last {
				t.Fatalf("waiter %d: token %d not above %d", g.waiter, g.token, last)
			}
			if at := g.at.Sub(start); want == 0 && (at < ttl*9/10 || at > 2*time.Second) {
				t.Fatalf("dead holder taken over %v after the first waiter looked, want about its lease period %v", at, ttl)
			}
			want, last = want+1, g.token
		}
		if want != waiters {
			t.Fatalf("%d of %d waiters granted", want, waiters)
		}
	})
}

// TestLiveHolderNotTakenOverByWaiters checks that waiters see a holder's
// refreshes through their own queue writes: a live holder keeps the lock
// for many lease periods while waiters queue and churn.
func TestLiveHolderNotTakenOverByWaiters(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) cas.Store) {
		const ttl, waiters = 300 * time.Millisecond, 3
		store, ctx := newStore(t), testContext(t)
		holder, err := newLocker(t, newStore(t)).Acquire(ctx, "k", lock.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		var granted sync.WaitGroup
		var mu sync.Mutex
		var grantedAt []time.Time
		for range waiters {
			l := newLocker(t, newStore(t))
			granted.Go(func() {
				lease, err := l.Acquire(ctx, "k")
				if err != nil {
					t.Errorf("waiter: %v", err)
					return
				}
				mu.Lock()
				grantedAt = append(grantedAt, time.Now())
				mu.Unlock()
				_ = lease.Release(ctx)
			})
		}
		waitQueued(t, store, "k", waiters)
		time.Sleep(4 * ttl)
		if err := holder.Err(); err != nil {
			t.Fatalf("holder lost its lease with waiters queued: %v", err)
		}
		released := time.Now()
		if err := holder.Release(ctx); err != nil {
			t.Fatalf("holder's Release: %v", err)
		}
		granted.Wait()
		for _, at := range grantedAt {
			if at.Before(released) {
				t.Fatalf("a waiter was granted %v before the live holder released", released.Sub(at))
			}
		}
	})
}

// TestBackOffStopEndsTheWait checks that a policy that says stop ends
// Acquire with ErrNotAcquired, leaving nothing in the queue.
func TestBackOffStopEndsTheWait(t *testing.T) {
	store, ctx := cas.NewMemory(), testContext(t)
	holder, err := newLocker(t, store).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(ctx)
	stop := lock.WithBackOff(func() backoff.BackOff { return &backoff.StopBackOff{} })
	if _, err := newLocker(t, store).Acquire(ctx, "k", stop); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("Acquire with a policy that stops: %v, want ErrNotAcquired", err)
	}
	if v, _, _ := readLease(t, store, "k"); len(v.Queue) != 0 {
		t.Fatalf("%d waiters left in the queue", len(v.Queue))
	}
}

// TestShortTTLHeadKeepsItsTurn checks that a head whose TTL is shorter
// than the policy's intervals keeps its turn after a long hold: it polls
// often enough to take the hand-over before the waiter behind it has seen
// it unchanged for that TTL and taken it over. Many keys are tried at
// once: a head that polls at the policy's pace loses on a good share.
func TestShortTTLHeadKeepsItsTurn(t *testing.T) {
	t.Parallel()
	const (
		keys = 64
		ttl  = 100 * time.Millisecond // caslock's minimum
		hold = 2 * time.Second        // the first two waiters slow down to hold/8
	)
	store := cas.NewMemory()
	ctx := testContext(t)
	var wg sync.WaitGroup
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		wg.Go(func() {
			holder, err := newLocker(t, store).Acquire(ctx, key, lock.WithTTL(ttl))
			if err != nil {
				t.Error(err)
				return
			}
			start := time.Now()
			var tokens [2]uint64 // of W and X, which queue in that order
			var waiters sync.WaitGroup
			for i := range tokens {
				l := newLocker(t, store)
				waiters.Go(func() {
					lease, err := l.Acquire(ctx, key, lock.WithTTL(ttl))
					if err != nil {
						t.Errorf("%s: waiter %d: %v", key, i, err)
						return
					}
					tokens[i] = lease.Token()
					if err := lease.Release(ctx); err != nil {
						t.Errorf("%s: waiter %d: Release: %v", key, i, err)
					}
				})
				waitQueued(t, store, key, i+1)
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(hold - time.Since(start))
			if err := holder.Release(ctx); err != nil {
				t.Errorf("%s: holder: Release: %v", key, err)
			}
			waiters.Wait()
			if tokens[0] == 0 || tokens[1] == 0 {
				return
			}
			if tokens[0] > tokens[1] {
				t.Errorf("%s: the second waiter took the head's turn: tokens %d (head) > %d (second)", key, tokens[0], tokens[1])
			}
		})
	}
	wg.Wait()
}
