package etcdlock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLocker returns a Locker on client under the test's own prefix, closed
// when the test ends.
func newLocker(t *testing.T, client *clientv3.Client, opts ...etcdlock.Option) *etcdlock.Locker {
	t.Helper()
	opts = append([]etcdlock.Option{etcdlock.WithPrefix(testenv.Prefix(t))}, opts...)
	l := etcdlock.New(client, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	clients := map[lock.Locker]*clientv3.Client{}
	locktest.Run(t, locktest.Harness{
		NewLocker: func(t *testing.T) lock.Locker {
			client := testenv.Etcd(t)
			l := newLocker(t, client)
			mu.Lock()
			clients[l] = client
			mu.Unlock()
			return l
		},
		// The process dies: its client goes away without revoking the session
		// lease, which then expires by its TTL.
		Crash: func(t *testing.T, l lock.Locker) {
			mu.Lock()
			client := clients[l]
			mu.Unlock()
			if err := client.Close(); err != nil {
				t.Fatalf("close the crashed Locker's client: %v", err)
			}
		},
	})
}
