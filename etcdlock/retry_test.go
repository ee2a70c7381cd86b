package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// flakyKV fails chosen transactions of a client, by their number in the
// order they are committed (1 = the first), with the error given.
type flakyKV struct {
	clientv3.KV
	mu    *sync.Mutex
	n     *int
	fails map[int]error
}

func newFlakyKV(kv clientv3.KV, fails map[int]error) flakyKV {
	return flakyKV{KV: kv, mu: &sync.Mutex{}, n: new(int), fails: fails}
}

func (kv flakyKV) Txn(ctx context.Context) clientv3.Txn {
	return flakyTxn{Txn: kv.KV.Txn(ctx), kv: kv}
}

type flakyTxn struct {
	clientv3.Txn
	kv flakyKV
}

func (t flakyTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	return flakyTxn{Txn: t.Txn.If(cs...), kv: t.kv}
}

func (t flakyTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	return flakyTxn{Txn: t.Txn.Then(ops...), kv: t.kv}
}

func (t flakyTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	return flakyTxn{Txn: t.Txn.Else(ops...), kv: t.kv}
}

func (t flakyTxn) Commit() (*clientv3.TxnResponse, error) {
	t.kv.mu.Lock()
	*t.kv.n++
	err := t.kv.fails[*t.kv.n]
	t.kv.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return t.Txn.Commit()
}

// A waiter whose probe fails for a while (here: times out once) keeps its
// place and watches again, instead of giving up.
func TestWaiterRetriesAProbeThatTimedOut(t *testing.T) {
	client := testenv.Etcd(t)
	holder := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	waiterClient := testenv.Etcd(t)
	// Transaction 1 queues the waiter, 2 is its first probe.
	waiterClient.KV = newFlakyKV(waiterClient.KV, map[int]error{2: rpctypes.ErrTimeout})
	granted := takeAndRelease(t, newLocker(t, waiterClient), "k")
	waitProbed(t, client, 2)
	release(t, holder)
	if err := <-granted; err != nil {
		t.Fatalf("waiter whose probe timed out once: %v", err)
	}
}

// A waiter whose queue read fails for a while (here: no leader, twice: the
// read from the member's own state, then the linearizable one) reads again.
func TestWaiterRetriesAQueueReadWithoutLeader(t *testing.T) {
	client := testenv.Etcd(t)
	first := newLocker(t, testenv.Etcd(t))
	holder := acquire(t, first, "k")
	middle := takeAndRelease(t, first, "k")
	waitKeys(t, client, 2)
	waiterClient := testenv.Etcd(t)
	// 1 queues the waiter behind two keys, 2 probes; 3 and 4 are the reads
	// after its predecessor goes.
	waiterClient.KV = newFlakyKV(waiterClient.KV, map[int]error{3: rpctypes.ErrNoLeader, 4: rpctypes.ErrNoLeader})
	granted := takeAndRelease(t, newLocker(t, waiterClient), "k")
	waitProbed(t, client, 3)
	release(t, holder)
	if err := <-middle; err != nil {
		t.Fatalf("middle waiter: %v", err)
	}
	if err := <-granted; err != nil {
		t.Fatalf("waiter whose queue reads found no leader: %v", err)
	}
}

// The retries follow the Acquire call's backoff policy: one that stops at
// once ends the wait with the probe's error.
func TestWaiterStopsRetryingWhenThePolicySays(t *testing.T) {
	client := testenv.Etcd(t)
	holder := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	waiterClient := testenv.Etcd(t)
	waiterClient.KV = newFlakyKV(waiterClient.KV, map[int]error{2: rpctypes.ErrTimeout})
	_, err := newLocker(t, waiterClient).Acquire(testContext(t), "k",
		lock.WithBackOff(func() backoff.BackOff { return &backoff.StopBackOff{} }))
	if !errors.Is(err, rpctypes.ErrTimeout) {
		t.Fatalf("waiter with a policy that stops, whose probe timed out: %v, want the timeout", err)
	}
	if n := countKeys(t, client); n != 1 {
		t.Fatalf("%d lock keys: want the holder's only", n)
	}
	release(t, holder)
}

// endingWatcher ends every watch at once while ending is set: what a member
// does to the watches that require a leader when it loses its own. With
// reason set, a watch first delivers a cancellation with that reason, as
// clientv3 does; otherwise its channel just closes. It counts the watches,
// and those that did not require a leader.
type endingWatcher struct {
	clientv3.Watcher
	reason        string
	ending        *atomic.Bool
	watches       *atomic.Int32
	withoutLeader *atomic.Int32
}

func newEndingWatcher(w clientv3.Watcher, reason string) endingWatcher {
	return endingWatcher{Watcher: w, reason: reason, ending: new(atomic.Bool), watches: new(atomic.Int32), withoutLeader: new(atomic.Int32)}
}

func (w endingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	w.watches.Add(1)
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(rpctypes.MetadataRequireLeaderKey)) == 0 {
		w.withoutLeader.Add(1)
	}
	if !w.ending.Load() {
		return w.Watcher.Watch(ctx, key, opts...)
	}
	ended := make(chan clientv3.WatchResponse, 1)
	if w.reason != "" {
		ended <- clientv3.WatchResponse{Canceled: true, CancelReason: w.reason}
	}
	close(ended)
	return ended
}

// A waiter's watch requires a leader: a member cut off from the others ends
// it, and the waiter watches again, maybe through another member, rather
// than waiting for a deletion that member cannot see. While its watches keep
// ending, it pauses between them by its backoff policy (no busy loop of
// watches and queue reads), keeps its place, and is granted once watches
// work again.
func TestWaiterWatchesAgainAfterPausesWhileItsWatchesEnd(t *testing.T) {
	for _, reason := range []string{"", rpctypes.ErrNoLeader.Error()} {
		t.Run(fmt.Sprintf("reason=%q", reason), func(t *testing.T) {
			holder := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
			waiterClient := testenv.Etcd(t)
			w := newEndingWatcher(waiterClient.Watcher, reason)
			w.ending.Store(true)
			waiterClient.Watcher = w
			granted := takeAndRelease(t, newLocker(t, waiterClient), "k")
			for w.watches.Load() == 0 { // the waiter has queued and watches
				time.Sleep(time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			w.ending.Store(false)
			switch n := w.watches.Load(); {
			case n < 2:
				t.Fatalf("%d watch(es) in 300 ms: the waiter did not watch again after its watch ended", n)
			case n > 30:
				t.Fatalf("%d watches in 300 ms while every watch ended at once: want a pause between them", n)
			}
			release(t, holder)
			if err := <-granted; err != nil {
				t.Fatalf("waiter after its watches ended for a while: %v", err)
			}
			if n := w.withoutLeader.Load(); n > 0 {
				t.Fatalf("%d of %d watches did not require a leader", n, w.watches.Load())
			}
		})
	}
}

// liveThenEndingWatcher passes each watch through until it has delivered an
// event (the probe), then ends it after a while: a member that loses its
// leader now and then.
type liveThenEndingWatcher struct {
	clientv3.Watcher
	after   time.Duration
	endings *atomic.Int32
}

func (w liveThenEndingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	in := w.Watcher.Watch(ctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer func() {
			close(out)
			for range in { // until the caller's cancel closes it
			}
		}()
		var end <-chan time.Time
		for {
			select {
			case r, ok := <-in:
				if !ok {
					return
				}
				if len(r.Events) > 0 && end == nil {
					end = time.After(w.after)
				}
				select {
				case out <- r:
				case <-ctx.Done():
					return
				}
			case <-end:
				w.endings.Add(1)
				return
			}
		}
	}()
	return out
}

// consecutiveRetries allows max retries in a row (until Reset), 1 ms apart.
type consecutiveRetries struct{ n, max int }

func (b *consecutiveRetries) Reset() { b.n = 0 }

func (b *consecutiveRetries) NextBackOff() time.Duration {
	b.n++
	if b.n > b.max {
		return backoff.Stop
	}
	return time.Millisecond
}

// A watch that worked (it delivered the probe) and then ended is a first
// failure for the backoff policy, not one more in a row: endings spaced by
// working watches never use up a policy that allows only a few retries in a
// row.
func TestWatchEndingsAfterWorkingWatchesDoNotAddUp(t *testing.T) {
	holder := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	waiterClient := testenv.Etcd(t)
	w := liveThenEndingWatcher{Watcher: waiterClient.Watcher, after: 30 * time.Millisecond, endings: new(atomic.Int32)}
	waiterClient.Watcher = w
	done := make(chan error, 1)
	go func() {
		lease, err := newLocker(t, waiterClient).Acquire(testContext(t), "k",
			lock.WithBackOff(func() backoff.BackOff { return &consecutiveRetries{max: 3} }))
		if err == nil {
			err = lease.Release(testContext(t))
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Acquire ended after %d watch endings, each after a working watch: %v", w.endings.Load(), err)
	case <-time.After(time.Second):
	}
	if n := w.endings.Load(); n < 5 {
		t.Fatalf("%d watch endings in 1 s, want at least 5 for the test to mean something", n)
	}
	release(t, holder)
	if err := <-done; err != nil {
		t.Fatalf("waiter after its watches ended now and then: %v", err)
	}
}
