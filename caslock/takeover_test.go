package caslock_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/internal/storeenv"
	"github.com/racefree/racefree/lock"
)

// crashedLease writes the lease item a holder that died right after its grant
// would have left behind, with the holder's wall clock at written.
func crashedLease(t *testing.T, store cas.Store, key string, ttl time.Duration, written time.Time) cas.Item {
	t.Helper()
	value, err := json.Marshal(map[string]any{"owner": "dead-holder", "ttl_ns": int64(ttl), "written": written})
	if err != nil {
		t.Fatal(err)
	}
	it, err := store.Create(context.Background(), key, value)
	if err != nil {
		t.Fatalf("Create of the crashed holder's lease: %v", err)
	}
	return it
}

// TestTakeOverNeedsFullObservedPeriod checks the clock-skew-tolerant
// take-over on every Store: a lease whose holder died is taken over only
// after a waiter has seen its version unchanged for a full lease period on
// its own clock, whatever the holder's wall clock wrote (here: a year ago,
// as from a clock far behind), and the new token is above the dead one's.
func TestTakeOverNeedsFullObservedPeriod(t *testing.T) {
	const ttl = 400 * time.Millisecond
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			newStore := b.Setup(t)
			dead := crashedLease(t, newStore(t), "job", ttl, time.Now().Add(-365*24*time.Hour))
			waiter := newLocker(t, newStore(t))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			_, err := waiter.TryAcquire(ctx, "job", lock.WithTTL(time.Second))
			if !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("TryAcquire of a lease first seen now: %v, want ErrNotAcquired", err)
			}
			start := time.Now()
			lease, err := waiter.Acquire(ctx, "job", lock.WithTTL(time.Second))
			if err != nil {
				t.Fatalf("Acquire after the holder died: %v", err)
			}
			defer lease.Release(context.Background())
			if waited := time.Since(start); waited < ttl*9/10 {
				t.Errorf("took over after %v, before a lease period of %v had been observed", waited, ttl)
			}
			if lease.Token() <= dead.Version {
				t.Errorf("token %d after take-over is not above the dead holder's version %d", lease.Token(), dead.Version)
			}
		})
	}
}

// TestRefreshKeepsTokenAndBumpsVersion checks that a refresh is a write
// (waiters see the holder alive) that leaves the fencing token alone, and
// that the next grant's token is above every version the refreshes wrote.
func TestRefreshKeepsTokenAndBumpsVersion(t *testing.T) {
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			newStore := b.Setup(t)
			store := newStore(t)
			l := newLocker(t, store, caslock.WithKeyPrefix("lock/"))
			ctx := context.Background()
			lease, err := l.Acquire(ctx, "k", lock.WithTTL(time.Second), lock.WithoutAutoRefresh())
			if err != nil {
				t.Fatal(err)
			}
			token := lease.Token()
			for range 2 {
				if err := lease.Refresh(ctx, time.Second); err != nil {
					t.Fatalf("Refresh: %v", err)
				}
			}
			it, err := store.Get(ctx, "lock/k")
			if err != nil {
				t.Fatalf("Get of the lease item: %v", err)
			}
			if lease.Token() != token || it.Version != token+2 {
				t.Fatalf("after two refreshes: token %d (was %d), item version %d, want %d", lease.Token(), token, it.Version, token+2)
			}
			if err := lease.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			next, err := newLocker(t, newStore(t), caslock.WithKeyPrefix("lock/")).TryAcquire(ctx, "k")
			if err != nil {
				t.Fatalf("TryAcquire after Release: %v", err)
			}
			defer next.Release(ctx)
			if next.Token() <= it.Version {
				t.Errorf("next token %d is not above the refreshed version %d", next.Token(), it.Version)
			}
		})
	}
}

// TestExpiredLeaseDeletesItsItem checks that a lease that runs out in a live
// process removes its own item at expiry, so waiters need no observation.
func TestExpiredLeaseDeletesItsItem(t *testing.T) {
	store := cas.NewMemory()
	l := newLocker(t, store)
	ctx := context.Background()
	lease, err := l.Acquire(ctx, "k", lock.WithTTL(200*time.Millisecond), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	<-lease.Done()
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := store.Get(ctx, "k")
		if errors.Is(err, cas.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease item still there 2 s after expiry: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(lease.Release(ctx), lock.ErrNotHeld) {
		t.Error("Release after expiry did not say ErrNotHeld")
	}
}

// TestNotALease checks that a key holding something else is an error, not a
// lock to take over.
func TestNotALease(t *testing.T) {
	store := cas.NewMemory()
	if _, err := store.Create(context.Background(), "k", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	_, err := newLocker(t, store).TryAcquire(context.Background(), "k")
	if err == nil || errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire on a foreign item: %v, want an error that is not ErrNotAcquired", err)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := caslock.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	long := make([]byte, lock.DefaultMaxKeyLen)
	if _, err := caslock.New(cas.NewMemory(), caslock.WithKeyPrefix(string(long))); err == nil {
		t.Error("New with a prefix that fills the key limit succeeded")
	}
}

// TestNewRejectsNilOption checks that a nil Option is an error wrapping
// lock.ErrInvalidOption, not a panic.
func TestNewRejectsNilOption(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("New with a nil Option panicked: %v", r)
		}
	}()
	_, err := caslock.New(cas.NewMemory(), caslock.WithKeyPrefix("lock/"), nil)
	if !errors.Is(err, lock.ErrInvalidOption) {
		t.Fatalf("New with a nil Option: %v, want ErrInvalidOption", err)
	}
}
