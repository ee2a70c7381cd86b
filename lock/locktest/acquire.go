package locktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

func (s *suite) testTryAcquire(t *testing.T) {
	k := key(t)
	holder := acquire(t, s.h.NewLocker(t), k)
	other := s.h.NewLocker(t)
	_, err := other.TryAcquire(testContext(t), k)
	wantErr(t, "TryAcquire of a held key", err, lock.ErrNotAcquired)

	if err := holder.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	lease, err := other.TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatalf("TryAcquire after release: %v", err)
	}
	releaseAtCleanup(t, lease)
	if lease.Key() != k {
		t.Errorf("Key() = %q, want %q", lease.Key(), k)
	}
}

func (s *suite) testAcquireHonoursCancel(t *testing.T) {
	k := key(t)
	acquire(t, s.h.NewLocker(t), k)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	s.wantBlockedUntil(t, ctx, k, context.Canceled)
}

func (s *suite) testAcquireHonoursDeadline(t *testing.T) {
	k := key(t)
	acquire(t, s.h.NewLocker(t), k)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s.wantBlockedUntil(t, ctx, k, context.DeadlineExceeded)
}

// wantBlockedUntil checks that Acquire of the held key k waits until ctx ends
// and then returns ctx's error as it is.
func (s *suite) wantBlockedUntil(t *testing.T, ctx context.Context, k string, want error) {
	t.Helper()
	result := make(chan error, 1)
	go func() {
		lease, err := s.h.NewLocker(t).Acquire(ctx, k)
		if err == nil {
			_ = lease.Release(context.Background())
		}
		result <- err
	}()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("Acquire of a held key succeeded")
		}
		if err != want { //nolint:errorlint // the contract: context errors as they are
			t.Fatalf("Acquire after the context ended: got %v, want exactly %v", err, want)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Acquire did not return within %v of its context ending", waitLimit)
	}
}

func (s *suite) testReleaseFreesKey(t *testing.T) {
	k := key(t)
	first := acquire(t, s.h.NewLocker(t), k)
	waiting := make(chan error, 1)
	second := s.h.NewLocker(t)
	go func() {
		lease, err := second.Acquire(testContext(t), k)
		if err == nil {
			err = lease.Release(context.Background())
		}
		waiting <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := first.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := <-waiting; err != nil {
		t.Fatalf("waiter after release: %v", err)
	}
}

func (s *suite) testReleaseTwice(t *testing.T) {
	lease := acquire(t, s.h.NewLocker(t), key(t))
	if err := lease.Err(); err != nil {
		t.Fatalf("Err of a held lease: %v", err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	waitDone(t, lease, time.Second)
	wantErr(t, "Err after Release", lease.Err(), lock.ErrReleased)
	wantErr(t, "second Release", lease.Release(testContext(t)), lock.ErrNotHeld)
	wantErr(t, "Refresh after Release", lease.Refresh(testContext(t), s.ttl), lock.ErrNotHeld)
	if errors.Is(lease.Err(), lock.ErrLost) {
		t.Errorf("Err after Release also says lost: %v", lease.Err())
	}
}
