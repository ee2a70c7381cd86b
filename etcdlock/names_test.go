package etcdlock_test

import (
	"context"
	"sync"
	"sync/atomic"
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

// laggingWatcher starts every watch at an old revision, when from is set,
// as a member that has not applied the latest writes does: the watch
// replays what came after that revision first.
type laggingWatcher struct {
	clientv3.Watcher
	from *atomic.Int64
}

func (w laggingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	if rev := w.from.Load(); rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	return w.Watcher.Watch(ctx, key, opts...)
}

// A waiter whose watch replays the deletion of an earlier key of its
// predecessor's name, or of its own (names are used again), must take
// neither for a deletion of the keys it waits with: the predecessor still
// holds the lock, and the waiter's key is there.
func TestReplayedDeletionsOfEarlierKeysOfTheSameNames(t *testing.T) {
	client := testenv.Etcd(t)
	var from atomic.Int64
	waiterClient := testenv.Etcd(t)
	waiterClient.Watcher = laggingWatcher{Watcher: waiterClient.Watcher, from: &from}
	waiter := newLocker(t, waiterClient)
	holders := newLocker(t, client)

	resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	release(t, acquire(t, waiter, "k"))  // the waiter's name, deleted once
	release(t, acquire(t, holders, "k")) // the holder's name, deleted once
	holder := acquire(t, holders, "k")   // a new key of the holder's name
	from.Store(resp.Header.Revision + 1) // before both deletions

	granted := takeAndRelease(t, waiter, "k")
	waitProbed(t, client, 2)
	select {
	case err := <-granted:
		t.Fatalf("waiter done while the holder holds the lock (token %d): %v", holder.Token(), err)
	case <-time.After(300 * time.Millisecond): // a lagging watch catches up within 100 ms
	}
	if err := holder.Err(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	release(t, holder)
	if err := <-granted; err != nil {
		t.Fatalf("waiter after the release: %v", err)
	}
}
