package etcdlock_test

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func benchLocker(b *testing.B, client *clientv3.Client) *etcdlock.Locker {
	l := etcdlock.New(client, etcdlock.WithPrefix(testenv.Prefix(b)))
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// BenchmarkLocker runs locktest's shared benchmarks, each contender with its
// own client; compare Uncontended with BenchmarkRawFloor. etcd's own
// concurrency.Mutex is measured beside it in the bench module.
func BenchmarkLocker(b *testing.B) {
	locktest.Benchmark(b, func(b *testing.B) lock.Locker { return benchLocker(b, testenv.Etcd(b)) })
}

// BenchmarkRawFloor is the least etcd can do for a lock: a put-if-absent
// transaction with a lease, and a delete.
func BenchmarkRawFloor(b *testing.B) {
	ctx := context.Background()
	client := testenv.Etcd(b)
	grant, err := client.Grant(ctx, 30)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = client.Revoke(context.Background(), grant.ID) })
	key := testenv.Prefix(b) + "/raw"
	for b.Loop() {
		resp, err := client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(grant.ID))).
			Commit()
		if err != nil || !resp.Succeeded {
			b.Fatalf("put-if-absent: %v, succeeded %v", err, resp != nil && resp.Succeeded)
		}
		if _, err := client.Delete(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
