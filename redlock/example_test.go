package redlock_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

func Example() {
	addr := os.Getenv("REDIS_ADDR") // e.g. "127.0.0.1:6379"
	if addr == "" {
		return
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = rdb.Close() }()

	locker, err := redlock.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = locker.Close() }()

	err = lock.Do(context.Background(), locker, "invoice:42", func(ctx context.Context) error {
		// ctx is cancelled if the lease is lost; pass the lease's fencing
		// token to the resource you write, so it can refuse stale holders.
		fmt.Println("generating invoice 42")
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleNewQuorum() {
	// Independent servers, not replicas of each other.
	var nodes []redlock.Client
	for _, addr := range []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"} {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer func() { _ = rdb.Close() }()
		nodes = append(nodes, rdb)
	}
	locker, err := redlock.NewQuorum(nodes)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = locker.Close() }()
	fmt.Println(locker.Properties().FencingAssumption != "")
	// Output: true
}
