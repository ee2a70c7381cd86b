// Package leases is what the example programs do with lock leases beyond
// lock.Do: hold several keys at once without deadlock (DoAll), and derive a
// context from leases whose tokens the caller needs (Context).
package leases

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/racefree/racefree/lock"
)

// Context returns a context cancelled, with the lease's error as its cause,
// as soon as any of leases ends; lock.Do hands its function the same kind of
// context, but not the lease. Call stop when done with it.
func Context(ctx context.Context, leases ...lock.Lease) (held context.Context, stop func()) {
	held, cancel := context.WithCancelCause(ctx)
	for _, lease := range leases {
		go func() {
			select {
			case <-lease.Done():
				cancel(lease.Err())
			case <-held.Done():
			}
		}()
	}
	return held, func() { cancel(nil) }
}

// DoAll acquires every key in sorted order (each once), runs fn with a
// context cancelled as soon as any of the leases ends, and releases them all.
// Sorting is what prevents deadlock: two callers that want overlapping sets
// meet at the lowest shared key first, and the one that waits there holds
// nothing the other needs.
//
// If a lease was lost before fn returned, DoAll returns an error wrapping
// lock.ErrLost joined with fn's error: what fn did after the loss was not
// protected. It also returns the time spent acquiring.
func DoAll(ctx context.Context, l lock.Locker, keys []string, fn func(ctx context.Context) error, opts ...lock.Option) (time.Duration, error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	start := time.Now()
	held := make([]lock.Lease, 0, len(keys))
	defer func() { Release(ctx, held...) }()
	for _, key := range keys {
		lease, err := l.Acquire(ctx, key, opts...)
		if err != nil {
			return time.Since(start), err
		}
		held = append(held, lease)
	}
	waited := time.Since(start)
	fnCtx, stop := Context(ctx, held...)
	fnErr := fn(fnCtx)
	stop()
	errs := []error{fnErr}
	for _, lease := range held {
		if err := lease.Err(); errors.Is(err, lock.ErrLost) {
			errs = append(errs, err)
		}
	}
	return waited, errors.Join(errs...)
}

// Release gives up leases in reverse order, even if ctx is done; a lease
// already lost has nothing to release.
func Release(ctx context.Context, leases ...lock.Lease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, lease := range slices.Backward(leases) {
		_ = lease.Release(rctx)
	}
}
