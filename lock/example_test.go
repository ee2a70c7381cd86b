package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
)

// Any Locker works here: lock.NewMemory inside one process, or redlock,
// etcdlock, zklock, sqllock and caslock across processes.
func ExampleDo() {
	locker := lock.NewMemory()
	err := lock.Do(context.Background(), locker, "seat:12A", func(ctx context.Context) error {
		// ctx is cancelled if the lease is lost before fn returns.
		fmt.Println("booking seat 12A")
		return nil
	}, lock.WithTTL(10*time.Second))
	fmt.Println("err:", err)
	// Output:
	// booking seat 12A
	// err: <nil>
}

func ExampleLocker_tryAcquire() {
	locker := lock.NewMemory()
	ctx := context.Background()
	first, _ := locker.TryAcquire(ctx, "order:42")
	_, err := locker.TryAcquire(ctx, "order:42")
	fmt.Println(errors.Is(err, lock.ErrNotAcquired))
	_ = first.Release(ctx)
	// Output: true
}

// A holder checks Err right before writing and passes the fencing token to the
// resource, which refuses tokens lower than the highest it has seen.
func ExampleLease_Token() {
	locker := lock.NewMemory()
	ctx := context.Background()
	lease, err := locker.Acquire(ctx, "account:7", lock.WithTTL(5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lease.Release(ctx)
	if lease.Err() == nil {
		fmt.Println("write with token", lease.Token())
	}
	// Output: write with token 1
}

// A transfer locks both accounts. DoAll takes them in sorted order, so two
// opposite transfers cannot deadlock; LeaseFrom gives each lease's fencing
// token to the writes.
func ExampleDoAll() {
	locker := lock.NewMemory()
	err := lock.DoAll(context.Background(), locker, []string{"account:b", "account:a"}, func(ctx context.Context) error {
		a, _ := lock.LeaseFrom(ctx, "account:a")
		b, _ := lock.LeaseFrom(ctx, "account:b")
		fmt.Println("debit a with token", a.Token(), "and credit b with token", b.Token())
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// debit a with token 1 and credit b with token 2
	// err: <nil>
}
