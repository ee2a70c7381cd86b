package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// readCountingKV counts the read-only transactions it commits, serializable
// and linearizable; with stale set, it answers every serializable one as a
// member that has not applied the latest writes would (an old revision).
type readCountingKV struct {
	clientv3.KV
	stale                      bool
	serializable, linearizable *atomic.Int64
}

func (kv readCountingKV) Txn(ctx context.Context) clientv3.Txn {
	return &readCountingTxn{Txn: kv.KV.Txn(ctx), kv: kv}
}

type readCountingTxn struct {
	clientv3.Txn
	kv        readCountingKV
	reads     int
	writes    int
	allSerial bool
}

func (t *readCountingTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.Txn = t.Txn.If(cs...)
	return t
}

func (t *readCountingTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.allSerial = true
	for _, op := range ops {
		if op.IsGet() {
			t.reads++
			t.allSerial = t.allSerial && op.IsSerializable()
		} else {
			t.writes++
		}
	}
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *readCountingTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.writes += len(ops)
	t.Txn = t.Txn.Else(ops...)
	return t
}

func (t *readCountingTxn) Commit() (*clientv3.TxnResponse, error) {
	resp, err := t.Txn.Commit()
	if t.reads == 0 || t.writes > 0 {
		return resp, err
	}
	if !t.allSerial {
		t.kv.linearizable.Add(1)
		return resp, err
	}
	t.kv.serializable.Add(1)
	if err == nil && t.kv.stale {
		resp.Header.Revision = 1
	}
	return resp, err
}

// watchCountingWatcher counts the watches opened through it.
type watchCountingWatcher struct {
	clientv3.Watcher
	watches *atomic.Int64
}

func (w watchCountingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	w.watches.Add(1)
	return w.Watcher.Watch(ctx, key, opts...)
}

// waitProbed waits until n lock keys exist and every one but the newest has
// been touched by its successor's probe (a second version): each waiter's
// watch is then in place, ahead of any release.
func waitProbed(t *testing.T, client *clientv3.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix(),
			clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
		if err != nil {
			t.Fatalf("read lock keys: %v", err)
		}
		probed := 0
		for _, kv := range resp.Kvs[:max(len(resp.Kvs)-1, 0)] {
			if kv.Version >= 2 {
				probed++
			}
		}
		if len(resp.Kvs) == n && probed == n-1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lock keys, %d of them probed: want %d and %d", len(resp.Kvs), probed, n, n-1)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// handOverThrice has a holder and three waiters on client pass a key along,
// and returns once each was granted it and released it. The waiters' watches
// are all in place before the first release, and a wait ends on its
// predecessor's deletion unless a watch lagged and was replaced (a loaded
// machine): the scenario is then run again, up to five times, so that the
// reads counted are those of three handoffs each woken by its watch.
func handOverThrice(t *testing.T, client *clientv3.Client, reset func()) {
	t.Helper()
	var watches atomic.Int64
	client.Watcher = watchCountingWatcher{Watcher: client.Watcher, watches: &watches}
	l := newLocker(t, client)
	for attempt := range 5 {
		reset()
		watches.Store(0)
		key := fmt.Sprintf("k%d", attempt)
		holder := acquire(t, l, key)
		granted := make(chan int, 3)
		for i := range 3 {
			go func() {
				lease, err := l.Acquire(testContext(t), key)
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
					granted <- -1
					return
				}
				if err := lease.Release(testContext(t)); err != nil {
					t.Errorf("waiter %d: Release: %v", i, err)
				}
				granted <- i
			}()
			waitProbed(t, client, i+2)
		}
		release(t, holder)
		for range 3 {
			if i := <-granted; i < 0 {
				t.FailNow()
			}
		}
		got := watches.Load()
		if got == 3 {
			return
		}
		t.Logf("attempt %d: %d watches for 3 waiters (one lagged and was replaced): again", attempt, got)
	}
	t.Fatal("in 5 attempts, a watch lagged every time")
}

// In handOverThrice, waiter 0 queues right behind the holder: the holder's
// deletion alone tells it that it holds the lock (predecessor.alone), with
// no read. Waiters 1 and 2 queue behind two keys or more and read the queue
// once when their predecessor goes.
const handoffsWithARead = 2

func TestHandoffReadsTheQueueFromTheMembersOwnState(t *testing.T) {
	client := testenv.Etcd(t)
	var serializable, linearizable atomic.Int64
	client.KV = readCountingKV{KV: client.KV, serializable: &serializable, linearizable: &linearizable}
	handOverThrice(t, client, func() { serializable.Store(0); linearizable.Store(0) })
	if got := serializable.Load(); got != handoffsWithARead {
		t.Fatalf("%d serializable queue reads for %d handoffs that need one (and %d linearizable): want one each", got, handoffsWithARead, linearizable.Load())
	}
	if got := linearizable.Load(); got != 0 {
		t.Fatalf("%d linearizable queue reads after deletions the member had applied: want none", got)
	}
}

func TestHandoffReadsAgainWhenTheMemberLagsBehind(t *testing.T) {
	client := testenv.Etcd(t)
	var serializable, linearizable atomic.Int64
	client.KV = readCountingKV{KV: client.KV, stale: true, serializable: &serializable, linearizable: &linearizable}
	handOverThrice(t, client, func() { serializable.Store(0); linearizable.Store(0) })
	if s, l := serializable.Load(), linearizable.Load(); s != handoffsWithARead || l != handoffsWithARead {
		t.Fatalf("%d serializable reads answered from behind the deletion, %d linearizable ones: want %d of each (each read again)", s, l, handoffsWithARead)
	}
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}

// takeAndRelease acquires key on l and releases it at once, in the
// background; the channel gets the first error, or nil.
func takeAndRelease(t *testing.T, l lock.Locker, key string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		lease, err := l.Acquire(testContext(t), key)
		if err == nil {
			err = lease.Release(testContext(t))
		}
		done <- err
	}()
	return done
}

func TestHandoffToTheNextInLineReadsNothing(t *testing.T) {
	client := testenv.Etcd(t)
	var serializable, linearizable, watches atomic.Int64
	client.KV = readCountingKV{KV: client.KV, serializable: &serializable, linearizable: &linearizable}
	client.Watcher = watchCountingWatcher{Watcher: client.Watcher, watches: &watches}
	l := newLocker(t, client)
	// A watch that lags is replaced, and its replacement may find the holder
	// gone and read the queue: that run says nothing, and is made again.
	for attempt := range 5 {
		serializable.Store(0)
		linearizable.Store(0)
		watches.Store(0)
		key := fmt.Sprintf("k%d", attempt)
		holder := acquire(t, l, key)
		granted := takeAndRelease(t, l, key)
		waitProbed(t, client, 2)
		release(t, holder)
		if err := <-granted; err != nil {
			t.Fatalf("next in line: %v", err)
		}
		if n := watches.Load(); n != 1 {
			t.Logf("attempt %d: %d watches (one lagged and was replaced): again", attempt, n)
			continue
		}
		if s, l := serializable.Load(), linearizable.Load(); s+l != 0 {
			t.Fatalf("%d serializable and %d linearizable queue reads to hand the lock to the only waiter: want none", s, l)
		}
		return
	}
	t.Fatal("in 5 attempts, a watch lagged every time")
}

// Holder and waiter on one Locker share its session lease: revoking it
// deletes both keys at one revision, so the waiter's watch, which covers
// both, reports both deletions in one response. The waiter's own key being
// gone must win over the holder's deletion.
func TestNextInLineWhoseKeyGoesWithTheHoldersGivesUp(t *testing.T) {
	client := testenv.Etcd(t)
	l := newLocker(t, testenv.Etcd(t))
	holder := acquire(t, l, "k")
	done := make(chan error, 1)
	go func() {
		lease, err := l.Acquire(testContext(t), "k")
		if err == nil {
			err = fmt.Errorf("granted with token %d", lease.Token())
		}
		done <- err
	}()
	waitProbed(t, client, 2)
	time.Sleep(20 * time.Millisecond) // for the probe to reach the waiter's watch
	if _, err := client.Revoke(testContext(t), otherLease(t, client, holder.Token())); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := <-done; !errors.Is(err, lock.ErrLost) {
		t.Fatalf("waiter whose key went with the holder's: %v, want ErrLost", err)
	}
}

func TestNextInLineWhoseKeyIsDeletedGivesUp(t *testing.T) {
	client := testenv.Etcd(t)
	holder, done := holderAndWaiter(t)
	waitProbed(t, client, 2)
	resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(1))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read the waiter's key: %v (%d keys)", err, len(resp.Kvs))
	}
	if _, err := client.Delete(testContext(t), string(resp.Kvs[0].Key)); err != nil {
		t.Fatalf("delete the waiter's key: %v", err)
	}
	// The holder keeps the lock: the waiter sees its own key go, on the
	// watch that covers it and the holder's.
	select {
	case err := <-done:
		if !errors.Is(err, lock.ErrLost) {
			t.Fatalf("waiter whose key was deleted: %v, want ErrLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter whose key was deleted still waits after 10 s")
	}
	release(t, holder)
}
