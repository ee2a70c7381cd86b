package zklock_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/zklock"
)

func Example() {
	const sessionTimeout = 10 * time.Second
	conn, _, err := zk.Connect([]string{"127.0.0.1:2181"}, sessionTimeout)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	locker, err := zklock.New(conn, sessionTimeout, zklock.WithRoot("/myapp/locks"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = lock.Do(ctx, locker, "invoice/42", func(ctx context.Context) error {
		// ctx is cancelled if the session may have expired: stop writing then.
		fmt.Println("holding invoice/42")
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
