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
	p.start(lock.DefaultBackOff())
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
	stop.start(&backoff.StopBackOff{})
	if _, ok := stop.next(1, now, now); ok {
		t.Error("a policy that stops did not stop the wait")
	}
}
