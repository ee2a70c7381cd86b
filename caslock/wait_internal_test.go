package caslock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
)

// TestLeaveHandsOnAReservation checks that a waiter that leaves after the
// item was handed to it (its context ended before it saw the hand-over)
// hands it on to the next waiter, or deletes it when no one is queued.
func TestLeaveHandsOnAReservation(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	b := &backend{store: store, observed: make(map[string]observation)}
	const ttl = int64(time.Second)
	reserved := leaseValue{Owner: "first", TTL: ttl, Epoch: 3, Reserved: true, Queue: []queued{{ID: "second", TTL: 2 * ttl}}}
	if _, err := store.Create(ctx, "k", reserved.encode()); err != nil {
		t.Fatal(err)
	}
	(&waiter{b: b, skey: "k", id: "first"}).leave(ctx)
	it, err := store.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeLease(it.Value)
	if err != nil {
		t.Fatal(err)
	}
	if v.Owner != "second" || !v.Reserved || v.Epoch != 4 || v.TTL != 2*ttl || len(v.Queue) != 0 {
		t.Fatalf("after the first waiter left: %+v, want the item reserved for the second at epoch 4 with its TTL", v)
	}
	(&waiter{b: b, skey: "k", id: "second"}).leave(ctx)
	if _, err := store.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("after the last waiter left: %v, want the item deleted", err)
	}
}

// TestPacerSpacesPollsByPosition checks the interval of the first two
// waiters, the slower polls further back, the growth with a long hold and
// the policy's stop.
func TestPacerSpacesPollsByPosition(t *testing.T) {
	now := time.Now()
	var p pacer
	p.start(lock.DefaultBackOff(), lock.DefaultTTL)
	if p.head != time.Millisecond {
		t.Fatalf("head interval %v from the default policy, want 1ms", p.head)
	}
	for range 20 { // past the policy's first, short intervals
		p.next(1, now, now)
	}
	p.queued(9, now.Add(-20*time.Millisecond)) // 9 → 5 in 20 ms: a grant per 4 ms
	for range 20 {
		for pos := 1; pos <= 2; pos++ {
			if wait, _ := p.next(pos, now, now); wait > time.Millisecond || wait < time.Millisecond/2 {
				t.Fatalf("waiter %d waits %v, want within [0.5, 1] ms", pos, wait)
			}
		}
		fifth, _ := p.next(5, now, now)
		if fifth < 4*time.Millisecond || fifth > 8*time.Millisecond {
			t.Fatalf("fifth waits %v with a grant every 4 ms, want within [½, 1] of half its 4 grants: [4, 8] ms", fifth)
		}
	}
	if long, _ := p.next(1, now, now.Add(-8*time.Second)); long < 100*time.Millisecond {
		t.Errorf("head waits %v after an 8 s hold, want it slowed down", long)
	}
	var stop pacer
	stop.start(&backoff.StopBackOff{}, lock.DefaultTTL)
	if _, ok := stop.next(1, now, now); ok {
		t.Error("a policy that stops did not stop the wait")
	}
}

// TestMarkTellsLivesApart checks that a Locker that saw a reservation in
// one life of the item does not count a reservation for the same waiter at
// the same epoch in a later life as expired: the waiter's id stays the same
// over its whole wait and epochs restart when the item is created again.
func TestMarkTellsLivesApart(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	const ttl = 100 * time.Millisecond
	newLocker := func() *Locker {
		l, err := New(store, WithDefaults(lock.WithTTL(ttl), lock.WithoutAutoRefresh()))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l, m := newLocker(), newLocker()
	w := &waiter{b: &backend{store: store, observed: make(map[string]observation)}, skey: "k", id: newOwner(), ttl: ttl, notMine: time.Now()}
	step := func() *grant {
		t.Helper()
		g, _, err := w.step(ctx)
		if err != nil {
			t.Fatalf("waiter's step: %v", err)
		}
		return g
	}
	release := func(lease lock.Lease, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}

	// First life: X holds, W queues, X releases: reserved for W at epoch 2,
	// which M sees.
	x, err := l.TryAcquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	step()
	release(x, nil)
	if _, err := m.TryAcquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("M's TryAcquire of W's reservation: %v, want ErrNotAcquired", err)
	}
	// W pauses past its TTL: L takes the reservation over and releases; no
	// one is queued, so the item is deleted.
	_, _ = l.TryAcquire(ctx, "k")
	time.Sleep(ttl + ttl/5)
	release(l.TryAcquire(ctx, "k"))
	if _, err := store.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("after the take-over's release: %v, want the item deleted", err)
	}

	// Second life: Y creates it (epoch 1), W queues again, Y releases:
	// reserved for W at epoch 2 again, and W takes it.
	y, err := l.TryAcquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	step()
	release(y, nil)
	g := step()
	if g == nil {
		t.Fatal("W did not take its reservation")
	}
	defer g.Release(ctx)
	if lease, err := m.TryAcquire(ctx, "k"); err == nil {
		defer lease.Release(ctx)
		t.Fatalf("TWO HOLDERS: M took over at once with token %d while W's grant (token %d) runs for %v more",
			lease.Token(), g.Token(), time.Until(g.Expiry()).Round(time.Millisecond))
	} else if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("M's TryAcquire: %v, want ErrNotAcquired", err)
	}
}

// TestPacerPollsWithinTheTTL checks that no waiter, at any position, after
// any hold, with any policy, waits longer than an eighth of its TTL between
// polls: a hand-over to it must be seen well within its TTL.
func TestPacerPollsWithinTheTTL(t *testing.T) {
	now := time.Now()
	policies := map[string]func() backoff.BackOff{
		"default":  lock.DefaultBackOff,
		"constant": func() backoff.BackOff { return backoff.NewConstantBackOff(2 * time.Second) },
	}
	for name, policy := range policies {
		for _, ttl := range []time.Duration{minTTL, 300 * time.Millisecond, 2 * time.Second} {
			var p pacer
			p.start(policy(), ttl)
			p.queued(20, now.Add(-time.Second))
			for range 30 { // the policy's intervals grow to their maximum
				for _, pos := range []int{1, 2} { // the two a hand-over goes to
					for _, hold := range []time.Duration{0, time.Second, 10 * time.Second} {
						if wait, _ := p.next(pos, now, now.Add(-hold)); wait > ttl/ttlDivisor {
							t.Fatalf("%s policy, TTL %v: waiter %d waits %v after a hold of %v, want at most %v",
								name, ttl, pos, wait, hold, ttl/ttlDivisor)
						}
					}
				}
			}
		}
	}
}

// An item written by a caslock version without lives gets one at its
// holder's next write, and keeps it after.
func TestHolderWritesGiveALifeToAnOldItem(t *testing.T) {
	old := leaseValue{Owner: "a", TTL: int64(time.Second), Epoch: 3, Queue: []queued{{ID: "b", TTL: int64(time.Second)}}}
	for name, v := range map[string]leaseValue{
		"refresh":   old.refreshed(time.Second),
		"claim":     old.claimedBy("b", time.Second),
		"hand-over": func() leaseValue { v, _ := old.handedOver(); return v }(),
	} {
		if v.Life == "" {
			t.Errorf("%s of an item without a life: none given", name)
		}
		if again := v.refreshed(time.Second); again.Life != v.Life {
			t.Errorf("%s: life %q became %q at the next refresh", name, v.Life, again.Life)
		}
	}
}
