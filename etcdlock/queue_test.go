package etcdlock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// countKeys returns how many lock keys exist under the test's prefix.
func countKeys(t *testing.T, client *clientv3.Client) int64 {
	t.Helper()
	resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("count keys: %v", err)
	}
	return resp.Count
}

// waitKeys waits until n lock keys exist under the test's prefix.
func waitKeys(t *testing.T, client *clientv3.Client, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countKeys(t, client) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d lock keys, want %d", countKeys(t, client), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func acquire(t *testing.T, l lock.Locker, key string, opts ...lock.Option) lock.Lease {
	t.Helper()
	lease, err := l.Acquire(testContext(t), key, opts...)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	return lease
}

func release(t *testing.T, lease lock.Lease) {
	t.Helper()
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func TestCancelledWaiterLeavesNoKey(t *testing.T) {
	client := testenv.Etcd(t)
	l := newLocker(t, client)
	holder := acquire(t, l, "k")

	// Waiters 1, 2, 3 queue up behind the holder; 2 gives up mid-wait.
	results := make([]chan error, 4)
	cancels := make([]context.CancelFunc, 4)
	for i := 1; i <= 3; i++ {
		ctx, cancel := context.WithCancel(testContext(t))
		cancels[i], results[i] = cancel, make(chan error, 1)
		go func() {
			lease, err := newLocker(t, testenv.Etcd(t)).Acquire(ctx, "k")
			if err == nil {
				err = lease.Release(testContext(t))
			}
			results[i] <- err
		}()
		waitKeys(t, client, int64(i+1))
	}
	cancels[2]()
	if err := <-results[2]; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: got %v, want context.Canceled", err)
	}
	waitKeys(t, client, 3) // holder, 1 and 3: the cancelled waiter's key is gone
	release(t, holder)
	for _, i := range []int{1, 3} {
		if err := <-results[i]; err != nil {
			t.Fatalf("waiter %d: %v", i, err)
		}
	}
	cancels[1]()
	cancels[3]()
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}

func TestCancelledWaiterAtTheHeadLeavesNoKey(t *testing.T) {
	client := testenv.Etcd(t)
	holder := acquire(t, newLocker(t, client), "k")
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		_, err := newLocker(t, testenv.Etcd(t)).Acquire(ctx, "k")
		done <- err
	}()
	waitKeys(t, client, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: got %v, want context.Canceled", err)
	}
	waitKeys(t, client, 1)
	release(t, holder)
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}

// countingWatcher counts the DELETE events its watches deliver.
type countingWatcher struct {
	clientv3.Watcher
	deletes *atomic.Int64
}

func (w countingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	in := w.Watcher.Watch(ctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		for resp := range in {
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					w.deletes.Add(1)
				}
			}
			select {
			case out <- resp:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

func TestHundredWaitersFIFOOneWakeupPerRelease(t *testing.T) {
	const waiters, clients = 100, 4
	client := testenv.Etcd(t)
	var deletes atomic.Int64
	lockers := make([]*etcdlock.Locker, clients)
	for i := range lockers {
		c := testenv.Etcd(t)
		c.Watcher = countingWatcher{Watcher: c.Watcher, deletes: &deletes}
		lockers[i] = newLocker(t, c)
	}
	holder := acquire(t, newLocker(t, client), "k")

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := lockers[i%clients].Acquire(testContext(t), "k")
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := lease.Release(testContext(t)); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		}()
		waitKeys(t, client, int64(i+2)) // waiter i has queued before i+1 starts
	}
	if got := deletes.Load(); got != 0 {
		t.Fatalf("%d deletions seen before the first release", got)
	}
	release(t, holder)
	wg.Wait()
	if len(order) != waiters {
		t.Fatalf("%d of %d waiters were granted", len(order), waiters)
	}
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v: position %d went to waiter %d", order, i, got)
		}
	}
	// The holder's release and those of waiters 0..98 each woke one waiter;
	// nobody watched the last waiter's key.
	if got := deletes.Load(); got != waiters {
		t.Fatalf("waiters saw %d deletions for %d releases that had a successor: a release woke more than one waiter", got, waiters)
	}
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}
