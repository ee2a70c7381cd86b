package etcdlock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/internal/testenv"
)

// createdNames watches the test's prefix and returns a func that reports the
// distinct names of the lock keys created so far, and how many creations.
func createdNames(t *testing.T, client *clientv3.Client) func() (names map[string]int, creations int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := client.Watch(ctx, testenv.Prefix(t)+"/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if resp := <-events; !resp.Created {
		t.Fatalf("watch not created: %v", resp.Err())
	}
	var (
		mu    sync.Mutex
		names = map[string]int{}
		count int
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for resp := range events {
			mu.Lock()
			for _, ev := range resp.Events {
				if ev.IsCreate() {
					names[string(ev.Kv.Key)]++
					count++
				}
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() (map[string]int, int) {
		// Catch up: a key put now is seen after every creation before it.
		marker := testenv.Prefix(t) + "/~marker"
		if _, err := client.Put(testContext(t), marker, ""); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			_, seen := names[marker]
			if seen {
				out := make(map[string]int, len(names))
				for k, v := range names {
					if k != marker {
						out[k] = v
					}
				}
				n := count - 1
				delete(names, marker)
				count--
				mu.Unlock()
				if _, err := client.Delete(testContext(t), marker); err != nil {
					t.Fatal(err)
				}
				return out, n
			}
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatal("the watch did not catch up")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// A lock taken again and again by one Locker creates the same key each time,
// not a new one: etcd keeps every key ever created in its index until
// compaction, and every read of the queue visits them all.
func TestRetakenLockReusesItsKey(t *testing.T) {
	client := testenv.Etcd(t)
	seen := createdNames(t, client)
	l := newLocker(t, client)
	const rounds = 20
	for range rounds {
		release(t, acquire(t, l, "k"))
		lease, err := l.TryAcquire(testContext(t), "k")
		if err != nil {
			t.Fatalf("TryAcquire: %v", err)
		}
		release(t, lease)
	}
	names, creations := seen()
	if creations != 2*rounds || len(names) != 1 {
		t.Fatalf("%d key creations under %d names for %d acquisitions one after the other: want one name, created each time", creations, len(names), 2*rounds)
	}
}

// Waiters of one Locker on one lock each have their own key, and reuse the
// names freed by those before them: never more names than waiters at once.
func TestConcurrentWaitersReuseFreedNames(t *testing.T) {
	client := testenv.Etcd(t)
	seen := createdNames(t, client)
	l := newLocker(t, client)
	const waiters, rounds = 3, 10
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			for range rounds {
				lease, err := l.Acquire(testContext(t), "k")
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				if err := lease.Release(testContext(t)); err != nil {
					t.Errorf("Release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	names, creations := seen()
	if creations != waiters*rounds || len(names) > waiters {
		t.Fatalf("%d key creations under %d names for %d acquisitions by %d waiters: want at most %d names", creations, len(names), waiters*rounds, waiters, waiters)
	}
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}
