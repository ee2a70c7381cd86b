package zklock_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
	"github.com/racefree/racefree/zklock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sessionTimeout is the session timeout of the tests' connections: the
// conformance suite asks for TTLs up to 5 s, which may not exceed it.
const sessionTimeout = testenv.ZooKeeperSessionTimeout

// quiet is a zk.Logger that drops go-zookeeper's connection chatter.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connect opens a session on servers, waits until it is established and closes
// it when the test ends. dial, if not nil, replaces the default dialer.
func connect(t testing.TB, servers []string, timeout time.Duration, dial zk.Dialer) *zk.Conn {
	t.Helper()
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogger(quiet{}), zk.WithDialer(dial))
	if err != nil {
		t.Fatalf("zk.Connect(%v): %v", servers, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events { // until conn is closed
					}
				}()
				return conn
			}
		case <-deadline:
			t.Fatalf("no ZooKeeper session on %v after 30 s", servers)
		}
	}
}

// newLocker returns a Locker with its own session, keeping its keys under
// root.
func newLocker(t testing.TB, conn *zk.Conn, root string, opts ...zklock.Option) *zklock.Locker {
	t.Helper()
	l, err := zklock.New(conn, sessionTimeout, append([]zklock.Option{zklock.WithRoot(root)}, opts...)...)
	if err != nil {
		t.Fatalf("zklock.New: %v", err)
	}
	return l
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	conns := map[lock.Locker]*zk.Conn{}
	locktest.Run(t, locktest.Harness{
		NewLocker: func(t *testing.T) lock.Locker {
			conn := connect(t, testenv.ZooKeeperServers(t), sessionTimeout, nil)
			l := newLocker(t, conn, testenv.ZooKeeperRoot(t))
			mu.Lock()
			conns[l] = conn
			mu.Unlock()
			return l
		},
		Crash: func(t *testing.T, l lock.Locker) {
			mu.Lock()
			conn := conns[l]
			mu.Unlock()
			conn.Close() // the session ends: the server deletes its ephemeral nodes
		},
	})
}
