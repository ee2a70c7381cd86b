package locktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

func (s *suite) testDoReleases(t *testing.T) {
	l := s.h.NewLocker(t)
	k := key(t)
	ran := false
	err := lock.Do(testContext(t), l, k, func(ctx context.Context) error {
		ran = true
		s.wantHeld(t, k)
		return ctx.Err()
	})
	if err != nil || !ran {
		t.Fatalf("Do: ran=%v err=%v", ran, err)
	}
	errFn := errors.New("the work failed")
	err = lock.Do(testContext(t), l, k, func(context.Context) error { return errFn })
	if !errors.Is(err, errFn) {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
	// Released after both calls.
	lease, err := s.h.NewLocker(t).TryAcquire(testContext(t), k)
	if err != nil {
		t.Fatalf("TryAcquire after Do: %v", err)
	}
	releaseAtCleanup(t, lease)
}

func (s *suite) testDoCancelsOnLoss(t *testing.T) {
	s.requireLeaseTTL(t)
	l := s.h.NewLocker(t)
	start := time.Now()
	var cause error
	err := lock.Do(testContext(t), l, key(t), func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			cause = context.Cause(ctx)
			return ctx.Err()
		case <-time.After(waitLimit):
			return errors.New("fn's context was not cancelled when the lease ended")
		}
	}, lock.WithTTL(s.ttl), lock.WithoutAutoRefresh())
	wantErr(t, "Do whose lease ran out", err, lock.ErrLost)
	wantErr(t, "cause of fn's cancellation", cause, lock.ErrLost)
	if elapsed := time.Since(start); elapsed >= s.ttl {
		t.Errorf("fn was cancelled %v after the start, not before the TTL %v", elapsed, s.ttl)
	}
}
