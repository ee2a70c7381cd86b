package locktest

import (
	"context"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

func (s *suite) testExpiryEndsLease(t *testing.T) {
	s.requireLeaseTTL(t)
	k := key(t)
	start := time.Now()
	old := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	waitDone(t, old, s.ttl+time.Second)
	if elapsed := time.Since(start); elapsed >= s.ttl {
		t.Errorf("Done closed %v after the acquire began, not before the TTL %v", elapsed, s.ttl)
	}
	wantErr(t, "Err after expiry", old.Err(), lock.ErrLost)

	// The key is free for someone else once the server-side TTL has run out.
	next := acquire(t, s.h.NewLocker(t), k)
	wantErr(t, "Release of the expired lease", old.Release(testContext(t)), lock.ErrNotHeld)
	wantErr(t, "Refresh of the expired lease", old.Refresh(testContext(t), s.ttl), lock.ErrNotHeld)
	if err := next.Err(); err != nil {
		t.Fatalf("new holder lost its lease after the old one's Release: %v", err)
	}
	s.wantHeld(t, k)
	if s.props.Fencing && next.Token() <= old.Token() {
		t.Errorf("token after expiry %d is not greater than the expired one %d", next.Token(), old.Token())
	}
}

func (s *suite) testErrSeesExpiryWithoutDone(t *testing.T) {
	s.requireLeaseTTL(t)
	lease := acquire(t, s.h.NewLocker(t), key(t), lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	// A holder that slept through its TTL, never looking at Done.
	time.Sleep(s.ttl)
	wantErr(t, "Err after sleeping through the TTL", lease.Err(), lock.ErrLost)
}

func (s *suite) testStaleLeaseCannotTouchNewHolder(t *testing.T) {
	s.requireLeaseTTL(t)
	k := key(t)
	old := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	waitDone(t, old, s.ttl+time.Second)
	next := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(max(s.ttl, 5*time.Second)))

	for range 3 {
		_ = old.Release(testContext(t))
		_ = old.Refresh(testContext(t), s.ttl)
	}
	if err := next.Err(); err != nil {
		t.Fatalf("new holder's lease ended: %v", err)
	}
	s.wantHeld(t, k)
	if err := next.Refresh(testContext(t), max(s.ttl, 5*time.Second)); err != nil {
		t.Fatalf("new holder's Refresh: %v", err)
	}
	if err := next.Release(testContext(t)); err != nil {
		t.Fatalf("new holder's Release: %v", err)
	}
}

func (s *suite) testRefreshExtends(t *testing.T) {
	s.requireLeaseTTL(t)
	k := key(t)
	lease := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	time.Sleep(s.ttl / 2)
	if err := lease.Refresh(testContext(t), s.ttl); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	time.Sleep(s.ttl * 3 / 4) // past the original expiry, within the new one
	if err := lease.Err(); err != nil {
		t.Fatalf("lease ended although refreshed: %v", err)
	}
	s.wantHeld(t, k)
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release of the refreshed lease: %v", err)
	}
}

func (s *suite) testRefreshNeverResurrects(t *testing.T) {
	s.requireLeaseTTL(t)
	k := key(t)
	lease := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	time.Sleep(s.ttl + 100*time.Millisecond) // past the server-side expiry
	wantErr(t, "Refresh after expiry", lease.Refresh(testContext(t), s.ttl), lock.ErrNotHeld)
	// Nothing was re-created: someone else gets the key at once.
	other, err := s.h.NewLocker(t).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatalf("TryAcquire after a refused Refresh of an expired lease: %v", err)
	}
	releaseAtCleanup(t, other)
}

func (s *suite) testAutoRefreshKeepsLease(t *testing.T) {
	k := key(t)
	lease := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl))
	time.Sleep(3 * s.ttl)
	if err := lease.Err(); err != nil {
		t.Fatalf("auto-refreshed lease ended after 3 TTLs: %v", err)
	}
	select {
	case <-lease.Done():
		t.Fatal("Done closed on an auto-refreshed lease")
	default:
	}
	s.wantHeld(t, k)
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func (s *suite) testMaxHoldEndsLease(t *testing.T) {
	s.requireLeaseTTL(t)
	k := key(t)
	lease := acquire(t, s.h.NewLocker(t), k, lock.WithTTL(s.ttl), lock.WithMaxHold(s.ttl))
	waitDone(t, lease, 3*s.ttl)
	wantErr(t, "Err after the maximum hold time", lease.Err(), lock.ErrMaxHold)
	wantErr(t, "Err after the maximum hold time", lease.Err(), lock.ErrLost)
	next := acquire(t, s.h.NewLocker(t), k)
	if s.props.Fencing && next.Token() <= lease.Token() {
		t.Errorf("token %d after max hold is not greater than %d", next.Token(), lease.Token())
	}
}

func (s *suite) testCrashedHolderFreesKey(t *testing.T) {
	if s.h.Crash == nil {
		if s.props.LeaseTTL {
			t.Skip("Harness.Crash not set; ExpiryEndsLease covers a holder that stops refreshing")
		}
		t.Fatalf("%s: grants live as long as a session, so the Harness must set Crash to prove a dead holder frees the key", s.props.Name)
	}
	k := key(t)
	crashed := s.h.NewLocker(t)
	lease := acquire(t, crashed, k, lock.WithTTL(s.ttl))
	s.h.Crash(t, crashed)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	next, err := s.h.NewLocker(t).Acquire(ctx, k)
	if err != nil {
		t.Fatalf("Acquire after the holder crashed: %v", err)
	}
	releaseAtCleanup(t, next)
	if s.props.Fencing && next.Token() <= lease.Token() {
		t.Errorf("token %d after the crash is not greater than %d", next.Token(), lease.Token())
	}
}
