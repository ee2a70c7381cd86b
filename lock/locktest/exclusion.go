package locktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

// fencedResource stands for what a lock protects. It counts writers that
// overlap in time, and refuses a write whose fencing token is lower than one it
// has already accepted, as a storage service guarded by fencing tokens would.
type fencedResource struct {
	mu        sync.Mutex
	inside    int
	overlaps  int
	rejected  int
	writes    int
	lastToken uint64
}

func (r *fencedResource) write(token uint64, hold time.Duration) {
	r.mu.Lock()
	r.inside++
	if r.inside > 1 {
		r.overlaps++
	}
	if token < r.lastToken {
		r.rejected++
	} else {
		r.lastToken = token
		r.writes++
	}
	r.mu.Unlock()

	time.Sleep(hold)

	r.mu.Lock()
	r.inside--
	r.mu.Unlock()
}

func (s *suite) testMutualExclusion(t *testing.T) {
	const contenders, rounds = 8, 15
	k := key(t)
	var res fencedResource
	lockers := make([]lock.Locker, contenders)
	for i := range lockers {
		lockers[i] = s.h.NewLocker(t)
	}
	ctx := testContext(t)
	errs := make(chan error, contenders)
	var wg sync.WaitGroup
	for _, l := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.contend(ctx, l, k, rounds, &res)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.overlaps != 0 {
		t.Errorf("%d overlapping holders of %q", res.overlaps, k)
	}
	if s.props.Fencing && res.rejected != 0 {
		t.Errorf("fenced resource refused %d writes with a token below one it had seen", res.rejected)
	}
	if s.props.Fencing && res.writes != contenders*rounds {
		t.Errorf("fenced resource accepted %d writes, want %d", res.writes, contenders*rounds)
	}
}

// contend takes k rounds times on l and writes to res under the lock.
func (s *suite) contend(ctx context.Context, l lock.Locker, k string, rounds int, res *fencedResource) error {
	for i := range rounds {
		lease, err := l.Acquire(ctx, k, lock.WithTTL(max(s.ttl, 5*time.Second)))
		if err != nil {
			return fmt.Errorf("round %d: Acquire: %w", i, err)
		}
		if err := lease.Err(); err != nil {
			return fmt.Errorf("round %d: fresh lease already ended: %w", i, err)
		}
		res.write(lease.Token(), 200*time.Microsecond)
		if err := lease.Release(ctx); err != nil {
			return fmt.Errorf("round %d: Release: %w", i, err)
		}
	}
	return nil
}

func (s *suite) testIndependentKeys(t *testing.T) {
	l1, l2 := s.h.NewLocker(t), s.h.NewLocker(t)
	a, b := key(t), key(t)
	acquire(t, l1, a)
	lease, err := l2.TryAcquire(testContext(t), b)
	if err != nil {
		t.Fatalf("TryAcquire of another key while %q is held: %v", a, err)
	}
	releaseAtCleanup(t, lease)
}
