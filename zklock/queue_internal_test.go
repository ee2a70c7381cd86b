package zklock

import (
	"context"
	"errors"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/internal/workpool"
	"github.com/racefree/racefree/lock"
)

// A waiter lists the queue after its predecessor's deletion. If its own
// node is gone by then, and the event of that deletion has not reached it
// (after a reconnect, go-zookeeper sets its watches again in map order, so
// events may come in any order), the listing alone must end the wait with
// ErrLost, not find the waiter at the head of the queue.
func TestListingWithoutTheOwnNodeIsLost(t *testing.T) {
	conn, root := testenv.ZooKeeper(t), testenv.ZooKeeperRoot(t)
	b := &backend{conn: conn, sessionTimeout: testenv.ZooKeeperSessionTimeout, root: root,
		acl: zk.WorldACL(zk.PermAll), pool: workpool.New(workerIdle)}
	ctx := context.Background()
	head, _, err := b.enter(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer head.withdraw()
	waiter, v, err := b.enter(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if v.position != 1 || v.predecessor != head.name {
		t.Fatalf("second node at %+v, want position 1 behind %s", v, head.name)
	}
	if err := conn.Delete(waiter.path, -1); err != nil {
		t.Fatal(err)
	}
	if v, err := waiter.list(ctx); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("listing of a queue without the waiter's node: %+v, %v; want ErrLost", v, err)
	}
}
