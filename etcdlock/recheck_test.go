package etcdlock_test

import (
	"context"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/internal/testenv"
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

// handOverThrice has a holder and three waiters on client pass a key along,
// and returns once each was granted it and released it.
func handOverThrice(t *testing.T, client *clientv3.Client) {
	t.Helper()
	l := newLocker(t, client)
	holder := acquire(t, l, "k")
	granted := make(chan int, 3)
	for i := range 3 {
		go func() {
			lease, err := l.Acquire(testContext(t), "k")
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
		waitKeys(t, client, int64(i+2))
	}
	release(t, holder)
	for range 3 {
		if i := <-granted; i < 0 {
			t.FailNow()
		}
	}
}

func TestHandoffReadsTheQueueFromTheMembersOwnState(t *testing.T) {
	client := testenv.Etcd(t)
	var serializable, linearizable atomic.Int64
	client.KV = readCountingKV{KV: client.KV, serializable: &serializable, linearizable: &linearizable}
	handOverThrice(t, client)
	if got := serializable.Load(); got < 3 {
		t.Fatalf("%d serializable queue reads for 3 handoffs (and %d linearizable): want one per handoff", got, linearizable.Load())
	}
	if got := linearizable.Load(); got != 0 {
		t.Fatalf("%d linearizable queue reads after deletions the member had applied: want none", got)
	}
}

func TestHandoffReadsAgainWhenTheMemberLagsBehind(t *testing.T) {
	client := testenv.Etcd(t)
	var serializable, linearizable atomic.Int64
	client.KV = readCountingKV{KV: client.KV, stale: true, serializable: &serializable, linearizable: &linearizable}
	handOverThrice(t, client)
	if s, l := serializable.Load(), linearizable.Load(); s < 3 || l < s {
		t.Fatalf("%d serializable reads answered from behind the deletion, %d linearizable ones: want each read again", s, l)
	}
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left behind", n)
	}
}
