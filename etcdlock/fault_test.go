package etcdlock_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// dial returns a client of the etcd at url, closed when the test ends.
func dial(t *testing.T, url string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// leaseOf returns the id of the session lease behind the only lock key of
// the test whose create revision is rev.
func leaseOf(t *testing.T, client *clientv3.Client, rev uint64) clientv3.LeaseID {
	t.Helper()
	resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if uint64(kv.CreateRevision) == rev {
			return clientv3.LeaseID(kv.Lease)
		}
	}
	t.Fatalf("no lock key of create revision %d", rev)
	return 0
}

func TestServerKilledWhileHeld(t *testing.T) {
	const ttl = 2 * time.Second
	srv := testenv.StartEtcdServer(t)
	l := newLocker(t, dial(t, srv.Addr))
	old := acquire(t, l, "k", lock.WithTTL(ttl))

	killed := time.Now()
	srv.Stop()
	select {
	case <-old.Done():
	case <-time.After(ttl):
		t.Fatalf("Done not closed %v after the server died (Err: %v)", ttl, old.Err())
	}
	t.Logf("Done closed %v after the server was killed", time.Since(killed).Round(time.Millisecond))
	if err := old.Err(); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Err after the server died: %v, want ErrLost", err)
	}

	srv.Start()
	// A new process, and the old one with a new session, get the key once the
	// old session lease has expired, with greater tokens.
	next := acquire(t, newLocker(t, dial(t, srv.Addr)), "k", lock.WithTTL(ttl))
	if next.Token() <= old.Token() {
		t.Fatalf("token after restart %d is not greater than %d", next.Token(), old.Token())
	}
	if err := old.Release(testContext(t)); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of the lost lease: %v, want ErrNotHeld", err)
	}
	if err := next.Err(); err != nil {
		t.Fatalf("new holder's lease ended after the old Release: %v", err)
	}
	release(t, next)
	again := acquire(t, l, "k", lock.WithTTL(ttl))
	if again.Token() <= next.Token() {
		t.Fatalf("token of the old Locker's new session %d is not greater than %d", again.Token(), next.Token())
	}
	release(t, again)
}

func TestRevokedSessionEndsHeldLease(t *testing.T) {
	client := testenv.Etcd(t)
	lease := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	props := newLocker(t, client).Properties()

	revoked := time.Now()
	if _, err := client.Revoke(testContext(t), leaseOf(t, client, lease.Token())); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	select {
	case <-lease.Done():
	case <-time.After(props.LossDetection):
		t.Fatalf("Done not closed within LossDetection %v of the revoke", props.LossDetection)
	}
	t.Logf("Done closed %v after the revoke", time.Since(revoked).Round(time.Millisecond))
	if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Err: %v, want ErrLost", err)
	}
}

func TestWaiterWhoseSessionDiesGivesUp(t *testing.T) {
	client := testenv.Etcd(t)
	props := newLocker(t, client).Properties()
	holder := acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	done := make(chan error, 1)
	go func() {
		_, err := newLocker(t, testenv.Etcd(t)).Acquire(testContext(t), "k")
		done <- err
	}()
	waitKeys(t, client, 2)
	waiterLease := otherLease(t, client, holder.Token())

	revoked := time.Now()
	if _, err := client.Revoke(testContext(t), waiterLease); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, lock.ErrLost) {
			t.Fatalf("waiter whose session died: %v, want ErrLost", err)
		}
	case <-time.After(props.LossDetection):
		t.Fatalf("waiter still waiting %v after its session was revoked", props.LossDetection)
	}
	t.Logf("waiter gave up %v after the revoke", time.Since(revoked).Round(time.Millisecond))
	release(t, holder)
}

// A waiter whose session lease is gone when its predecessor goes must not be
// granted the lock (etcd#11456).
func TestWaiterNotGrantedOnDeadSession(t *testing.T) {
	client := testenv.Etcd(t)
	holder, done := holderAndWaiter(t)
	waitProbed(t, client, 2) // the waiter watches the holder's key and its own
	if _, err := client.Revoke(testContext(t), otherLease(t, client, holder.Token())); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	release(t, holder) // at once: the waiter's keep-alive has not noticed yet
	if err := <-done; !errors.Is(err, lock.ErrLost) {
		t.Fatalf("waiter on a revoked session: %v, want ErrLost", err)
	}
}

// holderAndWaiter has a Locker of its own take "k" and another one wait
// for it; done gets the waiter's error, or one saying it was granted.
func holderAndWaiter(t *testing.T) (holder lock.Lease, done <-chan error) {
	t.Helper()
	holder = acquire(t, newLocker(t, testenv.Etcd(t)), "k")
	result := make(chan error, 1)
	go func() {
		lease, err := newLocker(t, testenv.Etcd(t)).Acquire(testContext(t), "k")
		if err == nil {
			err = errors.New("granted with token " + strconv.FormatUint(lease.Token(), 10))
		}
		result <- err
	}()
	return holder, result
}

// otherLease returns the lease of the lock key whose create revision is not
// holderRev.
func otherLease(t *testing.T, client *clientv3.Client, holderRev uint64) clientv3.LeaseID {
	t.Helper()
	resp, err := client.Get(testContext(t), testenv.Prefix(t)+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if uint64(kv.CreateRevision) != holderRev {
			return clientv3.LeaseID(kv.Lease)
		}
	}
	t.Fatal("no waiter key")
	return 0
}

func TestKeysWithSlashesDoNotCollide(t *testing.T) {
	l := newLocker(t, testenv.Etcd(t))
	a := acquire(t, l, "a")
	b := acquire(t, l, "a/b") // a prefix match would queue it behind "a"
	c := acquire(t, l, "a%2Fb")
	if a.Token() == b.Token() || b.Token() == c.Token() {
		t.Fatal("tokens repeat")
	}
	for _, lease := range []lock.Lease{a, b, c} {
		release(t, lease)
	}
}

func TestRefreshBeyondSessionTTLRefused(t *testing.T) {
	lease := acquire(t, newLocker(t, testenv.Etcd(t)), "k", lock.WithTTL(2*time.Second))
	err := lease.Refresh(testContext(t), time.Minute)
	if !errors.Is(err, lock.ErrInvalidOption) || !strings.Contains(err.Error(), "session") {
		t.Fatalf("Refresh beyond the session TTL: %v, want ErrInvalidOption naming the session", err)
	}
	if err := lease.Refresh(testContext(t), 2*time.Second); err != nil {
		t.Fatalf("Refresh within the session TTL: %v", err)
	}
	release(t, lease)
}
