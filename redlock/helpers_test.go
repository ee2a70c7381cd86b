package redlock_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSingle returns a Locker over c, closed when the test ends.
func newSingle(t testing.TB, c redlock.Client, opts ...redlock.Option) *redlock.Locker {
	t.Helper()
	l, err := redlock.New(c, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// newQuorum returns a Redlock Locker over nodes, closed when the test ends.
func newQuorum(t testing.TB, nodes []*redis.Client, opts ...redlock.Option) *redlock.Locker {
	t.Helper()
	clients := make([]redlock.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = n
	}
	l, err := redlock.NewQuorum(clients, opts...)
	if err != nil {
		t.Fatalf("NewQuorum: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// privateNodes starts n private Redis servers and returns them with a client
// to each (closed when the test ends).
func privateNodes(t *testing.T, n int) ([]*testenv.Server, []*redis.Client) {
	t.Helper()
	servers := make([]*testenv.Server, n)
	clients := make([]*redis.Client, n)
	for i := range servers {
		servers[i] = testenv.StartRedisServer(t)
		c := redis.NewClient(&redis.Options{Addr: servers[i].Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		clients[i] = c
	}
	return servers, clients
}

// key returns a lock key unique to the test.
func key(t testing.TB) string { return testenv.Prefix(t) }

func acquire(t testing.TB, l lock.Locker, k string, opts ...lock.Option) lock.Lease {
	t.Helper()
	lease, err := l.Acquire(testContext(t), k, opts...)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", k, err)
	}
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	return lease
}
