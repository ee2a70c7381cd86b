package locktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

// waitLimit bounds every blocking call of the suite, so that a broken backend
// fails a case instead of hanging the run.
const waitLimit = 30 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// acquire takes key on l or fails the test; the lease is released at cleanup
// if the test has not done so.
func acquire(t *testing.T, l lock.Locker, key string, opts ...lock.Option) lock.Lease {
	t.Helper()
	lease, err := l.Acquire(testContext(t), key, opts...)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	releaseAtCleanup(t, lease)
	return lease
}

func releaseAtCleanup(t *testing.T, lease lock.Lease) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = lease.Release(ctx) // the test may have released or lost it already
	})
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

// wantHeld fails the test unless key is held by someone: TryAcquire on a fresh
// Locker must say ErrNotAcquired.
func (s *suite) wantHeld(t *testing.T, key string) {
	t.Helper()
	lease, err := s.h.NewLocker(t).TryAcquire(testContext(t), key)
	if err == nil {
		_ = lease.Release(testContext(t))
		t.Fatalf("TryAcquire(%q) succeeded while the key should be held", key)
	}
	wantErr(t, "TryAcquire on a held key", err, lock.ErrNotAcquired)
}

// waitDone waits for lease.Done, failing the test after limit.
func waitDone(t *testing.T, lease lock.Lease, limit time.Duration) {
	t.Helper()
	select {
	case <-lease.Done():
	case <-time.After(limit):
		t.Fatalf("Done not closed within %v (Err: %v)", limit, lease.Err())
	}
}
