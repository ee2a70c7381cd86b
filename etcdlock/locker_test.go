package etcdlock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

func TestNilClient(t *testing.T) {
	l := etcdlock.New(nil)
	if _, err := l.Acquire(context.Background(), "k"); !errors.Is(err, etcdlock.ErrNilClient) {
		t.Fatalf("Acquire: %v, want ErrNilClient", err)
	}
	if _, err := l.TryAcquire(context.Background(), "k"); !errors.Is(err, etcdlock.ErrNilClient) {
		t.Fatalf("TryAcquire: %v, want ErrNilClient", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestNilOption checks that a nil Option makes every acquisition fail with
// an error wrapping lock.ErrInvalidOption, not New panic.
func TestNilOption(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("New with a nil Option panicked: %v", r)
		}
	}()
	l := etcdlock.New(testenv.Etcd(t), etcdlock.WithPrefix("racefree/niloption"), nil)
	defer l.Close(context.Background())
	if _, err := l.Acquire(testContext(t), "k"); !errors.Is(err, lock.ErrInvalidOption) {
		t.Fatalf("Acquire: %v, want ErrInvalidOption", err)
	}
	if _, err := l.TryAcquire(testContext(t), "k"); !errors.Is(err, lock.ErrInvalidOption) {
		t.Fatalf("TryAcquire: %v, want ErrInvalidOption", err)
	}
}

func TestCloseRevokesAndEndsLeases(t *testing.T) {
	client := testenv.Etcd(t)
	l := newLocker(t, testenv.Etcd(t))
	lease := acquire(t, l, "k")
	if err := l.Close(testContext(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-lease.Done()
	if err := lease.Err(); !errors.Is(err, lock.ErrLost) || !errors.Is(err, etcdlock.ErrClosed) {
		t.Fatalf("Err after Close: %v, want ErrLost wrapping ErrClosed", err)
	}
	if n := countKeys(t, client); n != 0 {
		t.Fatalf("%d lock keys left after Close", n)
	}
	if _, err := l.Acquire(testContext(t), "k"); !errors.Is(err, etcdlock.ErrClosed) {
		t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
	}
}

func TestNewSessionAfterRevoke(t *testing.T) {
	client := testenv.Etcd(t)
	l := newLocker(t, testenv.Etcd(t))
	first := acquire(t, l, "k")
	old := leaseOf(t, client, first.Token())
	release(t, first)
	if _, err := client.Revoke(testContext(t), old); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	// At once, before the keep-alive notices: the key creation is refused and
	// retried on a new session.
	next, err := l.TryAcquire(testContext(t), "k")
	if err != nil {
		t.Fatalf("TryAcquire after the session was revoked: %v", err)
	}
	if leaseOf(t, client, next.Token()) == old {
		t.Fatal("the new grant is on the revoked session")
	}
	release(t, next)
}
