package zklock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/zklock"
)

// faultLocker returns a Locker on a new session with srv.
func faultLocker(t *testing.T, srv *testenv.Server, timeout time.Duration) *zklock.Locker {
	t.Helper()
	conn := connect(t, []string{srv.Addr}, timeout, nil)
	l, err := zklock.New(conn, timeout, zklock.WithRoot("/faults"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestServerKilledEndsLeaseWithinLossDetection kills the server under a held
// lease: the lease is suspended (still held) at first, Done closes within the
// declared loss-detection bound, and after a restart a new holder's token is
// greater.
func TestServerKilledEndsLeaseWithinLossDetection(t *testing.T) {
	const timeout = 2 * time.Second
	srv := testenv.StartZooKeeperServer(t)
	l := faultLocker(t, srv, timeout)
	props, _ := lock.PropertiesOf(l)
	if props.LossDetection != timeout {
		t.Fatalf("LossDetection = %v, want the session timeout %v", props.LossDetection, timeout)
	}
	lease, err := l.Acquire(testContext(t), "k")
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	killed := time.Now()
	time.Sleep(100 * time.Millisecond)
	if err := lease.Err(); err != nil {
		t.Fatalf("lease ended %v after the server died, before the session could expire: %v", time.Since(killed), err)
	}
	select {
	case <-lease.Done():
	case <-time.After(props.LossDetection + time.Second):
		t.Fatalf("Done still open %v after the server died", time.Since(killed))
	}
	took := time.Since(killed)
	t.Logf("Done closed %v after the server died (LossDetection %v)", took, props.LossDetection)
	if took > props.LossDetection {
		t.Errorf("Done closed %v after the server died, beyond LossDetection %v", took, props.LossDetection)
	}
	if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Err after the server died: %v, want ErrLost", err)
	}

	srv.Start()
	// The old session may come back with the server: its owner gives up the
	// node it can no longer trust.
	if err := lease.Release(testContext(t)); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Release of the lost lease: %v, want ErrNotHeld", err)
	}
	next, err := faultLocker(t, srv, timeout).Acquire(testContext(t), "k")
	if err != nil {
		t.Fatalf("Acquire after the restart: %v", err)
	}
	defer func() { _ = next.Release(context.Background()) }()
	if next.Token() <= lease.Token() {
		t.Errorf("token after the restart %d is not greater than %d", next.Token(), lease.Token())
	}
}

// TestServerRestartWithinSessionTimeoutKeepsLease restarts the server at once:
// the session survives, and so does the lease (suspended, then resumed, as
// Curator's connection states have it).
func TestServerRestartWithinSessionTimeoutKeepsLease(t *testing.T) {
	const timeout = 6 * time.Second
	srv := testenv.StartZooKeeperServer(t)
	l := faultLocker(t, srv, timeout)
	lease, err := l.Acquire(testContext(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(context.Background()) }()

	srv.Stop()
	killed := time.Now()
	srv.Start()
	t.Logf("server back after %v", time.Since(killed))
	time.Sleep(time.Until(killed.Add(timeout + 500*time.Millisecond)))
	if err := lease.Err(); err != nil {
		t.Fatalf("lease lost although the session survived the restart: %v", err)
	}
	_, err = faultLocker(t, srv, timeout).TryAcquire(testContext(t), "k")
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire by another session after the restart: %v, want ErrNotAcquired", err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release after the restart: %v", err)
	}
}

// TestDeletedNodeEndsLease removes the lock node behind the holder's back (an
// operator, or the server expiring the session): the watch on the node ends
// the lease at once, long before the session timeout.
func TestDeletedNodeEndsLease(t *testing.T) {
	servers, root := testenv.ZooKeeperServers(t), testenv.ZooKeeperRoot(t)
	lease, err := newLocker(t, connect(t, servers, sessionTimeout, nil), root).Acquire(testContext(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	deleteHoldersNode(t, servers, root+"/k", lease, sessionTimeout/2)
	if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Err: %v, want ErrLost", err)
	}
	if err := lease.Refresh(testContext(t), time.Second); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Refresh of the lost lease: %v, want ErrNotHeld", err)
	}
	if err := lease.Release(testContext(t)); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Release of the lost lease: %v, want ErrNotHeld", err)
	}
}

// deleteHoldersNode deletes, as an operator would, the only node in dir, the
// lease's, and fails t unless the lease's Done closes within the given time.
func deleteHoldersNode(t *testing.T, servers []string, dir string, lease lock.Lease, within time.Duration) {
	t.Helper()
	operator := connect(t, servers, sessionTimeout, nil)
	nodes := children(t, operator, dir)
	if len(nodes) != 1 {
		t.Fatalf("queue holds %v, want the holder's node", nodes)
	}
	deleted := time.Now()
	if err := operator.Delete(dir+"/"+nodes[0], -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lease.Done():
		t.Logf("Done closed %v after the node was deleted", time.Since(deleted))
	case <-time.After(within):
		t.Fatalf("Done still open %v after the lock node was deleted", time.Since(deleted))
	}
}
