package etcdlock_test

import (
	"context"
	"fmt"
	"log"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/lock"
)

func Example() {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:2379"}, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Locks of this Locker share one etcd lease of 10 s, kept alive in the
	// background: if this process dies, its locks are freed 10 s later.
	locker := etcdlock.New(client, etcdlock.WithLockOptions(lock.WithTTL(10*time.Second)))
	defer locker.Close(context.Background())

	ctx := context.Background()
	err = lock.Do(ctx, locker, "invoice/42", func(ctx context.Context) error {
		// ctx is cancelled if the lease is lost. Pass the fencing token of
		// the lease to the resource you write; Do's caller cannot see it, so
		// use Acquire when the resource checks tokens.
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	lease, err := locker.Acquire(ctx, "invoice/42")
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release(ctx)
	fmt.Println("fencing token:", lease.Token())
}
