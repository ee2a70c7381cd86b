package redlock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
)

// Done closes while the server still holds the key: the holder stops before
// anyone else can be granted.
func TestDoneBeforeServerExpiry(t *testing.T) {
	rdb := testenv.Redis(t)
	l := newSingle(t, testenv.Redis(t))
	k := key(t)
	lease := acquire(t, l, k, lock.WithTTL(500*time.Millisecond), lock.WithoutAutoRefresh())
	select {
	case <-lease.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed within the TTL")
	}
	pttl, err := rdb.PTTL(testContext(t), "{"+k+"}").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 0 {
		t.Fatalf("Done closed only after the server expired the key (PTTL %v)", pttl)
	}
	if !errors.Is(lease.Err(), lock.ErrLost) {
		t.Fatalf("Err after Done = %v, want ErrLost", lease.Err())
	}
}

// A key the server drops while it is held (deleted here; an eviction or a
// failover does the same) ends the lease at its next renewal, long before
// the TTL, and the stale lease cannot touch the next holder's key.
func TestKeyDroppedServerSideEndsLease(t *testing.T) {
	rdb := testenv.Redis(t)
	l := newSingle(t, testenv.Redis(t))
	k := key(t)
	const ttl = 3 * time.Second
	lease := acquire(t, l, k, lock.WithTTL(ttl))
	if err := rdb.Del(testContext(t), "{"+k+"}").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case <-lease.Done():
	case <-time.After(ttl):
		t.Fatal("Done not closed after the key was dropped")
	}
	if waited := time.Since(start); waited > ttl/2 {
		t.Errorf("Done closed %v after the key was dropped, want within the renewal interval %v", waited, ttl/3)
	}
	if err := lease.Err(); !errors.Is(err, lock.ErrLost) || !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Err = %v, want ErrLost wrapping ErrNotHeld", err)
	}

	next, err := newSingle(t, testenv.Redis(t)).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatalf("TryAcquire after the key was dropped: %v", err)
	}
	t.Cleanup(func() { _ = next.Release(testContext(t)) })
	if err := lease.Refresh(testContext(t), ttl); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Refresh of the dropped lease: %v, want ErrNotHeld", err)
	}
	if err := lease.Release(testContext(t)); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Release of the dropped lease: %v, want ErrNotHeld", err)
	}
	if err := next.Err(); err != nil {
		t.Fatalf("next holder lost its lease: %v", err)
	}
	if n, err := rdb.Exists(testContext(t), "{"+k+"}").Result(); err != nil || n != 1 {
		t.Fatalf("next holder's key is gone (EXISTS = %d, %v)", n, err)
	}
	if next.Token() <= lease.Token() {
		t.Errorf("next token %d not greater than the dropped lease's %d", next.Token(), lease.Token())
	}
}
