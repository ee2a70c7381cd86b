package caslock_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
)

// lostCreate is a Store whose Create is applied but answers with an error,
// as when the connection breaks after the server wrote the item.
type lostCreate struct{ cas.Store }

var errLostReply = errors.New("connection reset after the write")

func (s lostCreate) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if _, err := s.Store.Create(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	return cas.Item{}, errLostReply
}

// A TryAcquire whose create was applied but whose answer was lost gives the
// item back: nobody else would release it before its lease period.
func TestTryAcquireGivesBackACreateWhoseAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	l := newLocker(t, lostCreate{store})
	if _, err := l.TryAcquire(ctx, "k"); !errors.Is(err, errLostReply) {
		t.Fatalf("TryAcquire with the create's answer lost: %v, want the Store's error", err)
	}
	if it, err := store.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("item after the failed TryAcquire: %+v, %v; want it given back", it, err)
	}
	lease, err := newLocker(t, store).TryAcquire(ctx, "k")
	if err != nil {
		t.Fatalf("TryAcquire by another Locker after the give-back: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// lostSwaps is a Store whose next n CompareAndSwaps are applied but answer
// with cas.ErrOutcomeUnknown, as dynamocas reports a write whose response
// was lost.
type lostSwaps struct {
	cas.Store
	n *atomic.Int32
}

func (s lostSwaps) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (cas.Item, error) {
	it, err := s.Store.CompareAndSwap(ctx, key, version, value)
	if err == nil && s.n.Add(-1) >= 0 {
		return cas.Item{}, fmt.Errorf("%w: connection reset after the write", cas.ErrOutcomeUnknown)
	}
	return it, err
}

// A waiter whose writes (its enqueue, then its claim of the hand-over) are
// applied but answered with cas.ErrOutcomeUnknown reads the item again and
// goes on: its Acquire is granted, not failed.
func TestWaiterGoesOnAfterWritesOfUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	holder, err := newLocker(t, store).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	lost := &atomic.Int32{}
	lost.Store(2)
	got := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		lease, err := newLocker(t, lostSwaps{store, lost}).Acquire(wctx, "k")
		if err == nil {
			err = lease.Release(wctx)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // the waiter queues (its enqueue's answer lost)
	if err := holder.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Acquire whose writes' answers were lost: %v", err)
	}
	if n := lost.Load(); n > 1 {
		t.Fatalf("%d lost answers left: the test did not reach the waiter's writes", n)
	}
}

// A Store whose writes all come back with cas.ErrOutcomeUnknown ends the
// wait with that error after a few paced attempts, instead of being asked
// in a loop until the context ends.
func TestWaiterGivesUpOnWritesThatAlwaysFail(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	holder, err := newLocker(t, store).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(ctx)
	failing := &countingGets{Store: unknownSwaps{store}}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = newLocker(t, failing).Acquire(wctx, "k")
	if !errors.Is(err, cas.ErrOutcomeUnknown) {
		t.Fatalf("Acquire over a Store whose writes always fail: %v, want cas.ErrOutcomeUnknown", err)
	}
	if n := failing.gets.Load(); n > 100 {
		t.Fatalf("%d reads before giving up: the waiter asked in a loop", n)
	}
}

// unknownSwaps is a Store whose CompareAndSwap always fails with
// cas.ErrOutcomeUnknown, applying nothing.
type unknownSwaps struct{ cas.Store }

func (unknownSwaps) CompareAndSwap(context.Context, string, uint64, []byte) (cas.Item, error) {
	return cas.Item{}, fmt.Errorf("%w: the server is down", cas.ErrOutcomeUnknown)
}

// countingGets counts reads.
type countingGets struct {
	cas.Store
	gets atomic.Int64
}

func (c *countingGets) Get(ctx context.Context, key string) (cas.Item, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}
