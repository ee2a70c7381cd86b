package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Locker grants exclusive, expiring leases on keys. Every backend's Locker
// honours the same contract, proven by package locktest.
type Locker interface {
	// Acquire blocks until the lock on key is granted, ctx is done, or the
	// backend fails. On ctx done it returns ctx's error as it is.
	Acquire(ctx context.Context, key string, opts ...Option) (Lease, error)

	// TryAcquire makes one attempt and returns an error wrapping ErrNotAcquired
	// at once when someone else holds key.
	TryAcquire(ctx context.Context, key string, opts ...Option) (Lease, error)
}

// Lease is one holding of a lock.
type Lease interface {
	// Key is the key the lease holds.
	Key() string

	// Token is the fencing token of the grant: on a backend that declares
	// Fencing it is strictly greater than the token of every earlier grant of
	// the same key. Pass it to the resource you write, so that the resource can
	// refuse writes from a holder that was superseded.
	Token() uint64

	// Done is closed when the lease ends: released, lost, or a safety margin
	// before the server may expire it.
	Done() <-chan struct{}

	// Err is nil while the lease is held, wraps ErrReleased after Release, and
	// wraps ErrLost (with the cause) once lost. It compares the lease deadline
	// with the clock at the moment of the call, so a holder resuming from a
	// long pause sees the loss at its very next check.
	Err() error

	// Refresh extends the lease to ttl from now. It returns an error wrapping
	// ErrNotHeld once the lease is lost or released; it never resurrects an
	// expired grant.
	Refresh(ctx context.Context, ttl time.Duration) error

	// Release gives the lock up. Only this lease's own grant is ever deleted.
	// It returns an error wrapping ErrNotHeld when the lease was already lost or
	// released.
	Release(ctx context.Context) error
}

// PropertiesOf returns the properties declared by l's backend, if l exposes them
// (every Locker built with New does).
func PropertiesOf(l Locker) (Properties, bool) {
	p, ok := l.(interface{ Properties() Properties })
	if !ok {
		return Properties{}, false
	}
	return p.Properties(), true
}

// Do acquires key, runs fn with a context that is cancelled when the lease ends,
// and releases the lease. If the lease was lost before fn returned, Do returns
// an error wrapping ErrLost (joined with fn's error, if any): whatever fn did
// after the loss was not protected by the lock.
func Do(ctx context.Context, l Locker, key string, fn func(ctx context.Context) error, opts ...Option) error {
	lease, err := l.Acquire(ctx, key, opts...)
	if err != nil {
		return err
	}
	fnCtx, cancel := context.WithCancelCause(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-lease.Done():
			cancel(lease.Err())
		case <-fnCtx.Done():
		}
	}()
	fnErr := fn(fnCtx)
	lostErr := lease.Err()
	cancel(nil)
	<-watched

	// Release with a context that survives ctx's cancellation, so that an
	// abandoned caller still frees the key at once instead of at expiry.
	releaseCtx, cancelRelease := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelRelease()
	releaseErr := lease.Release(releaseCtx)

	switch {
	case lostErr != nil:
		return errors.Join(fnErr, lostErr)
	case fnErr != nil:
		return fnErr
	case releaseErr != nil && !errors.Is(releaseErr, ErrNotHeld):
		return fmt.Errorf("lock: release %q: %w", key, releaseErr)
	}
	// A lease lost between fn's return and Release does not matter: fn ran
	// protected.
	return nil
}
