package lock

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// released. Either way the caller no longer holds the lock afterwards: a
	// release whose answer was lost and that the client library sent again
	// (go-redis does, for instance) finds its grant gone, deleted by the
	// first send, and reports ErrNotHeld too; Do ignores it for that reason.
	// A Refresh of the lease still on the wire is cancelled (it returns an
	// error wrapping ErrNotHeld) and the release is sent once the backend has
	// given it up.
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
// after the loss was not protected by the lock. fn finds the lease, for its
// fencing token, with LeaseFrom. If fn panics, the lease is released and the
// panic goes on. A nil l or fn is an error wrapping ErrInvalidOption, returned
// before anything is acquired.
func Do(ctx context.Context, l Locker, key string, fn func(ctx context.Context) error, opts ...Option) error {
	if err := checkDo("Do", l, fn); err != nil {
		return err
	}
	lease, err := l.Acquire(ctx, key, opts...)
	if err != nil {
		return err
	}
	return runHolding(ctx, []Lease{lease}, fn)
}

// DoAll is Do for several keys at once: it acquires them one by one in sorted
// order (duplicates once), so that callers locking overlapping sets can never
// deadlock one another, runs fn with a context cancelled when any of the
// leases ends, and releases them all. If one key cannot be acquired, the keys
// already held are released and the error is returned.
func DoAll(ctx context.Context, l Locker, keys []string, fn func(ctx context.Context) error, opts ...Option) error {
	if err := checkDo("DoAll", l, fn); err != nil {
		return err
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(keys) == 0 {
		return fmt.Errorf("%w: DoAll needs at least one key", ErrInvalidKey)
	}
	leases := make([]Lease, 0, len(keys))
	for _, key := range keys {
		lease, err := l.Acquire(ctx, key, opts...)
		if err != nil {
			releaseAll(ctx, leases)
			return err
		}
		leases = append(leases, lease)
	}
	return runHolding(ctx, leases, fn)
}

// LeaseFrom returns the lease on key that Do or DoAll holds for the function
// they run with ctx.
func LeaseFrom(ctx context.Context, key string) (Lease, bool) {
	leases, _ := ctx.Value(leasesKey{}).([]Lease)
	for _, lease := range leases {
		if lease.Key() == key {
			return lease, true
		}
	}
	return nil, false
}

type leasesKey struct{}

// checkDo rejects the arguments of Do and DoAll that cannot work.
func checkDo(op string, l Locker, fn func(ctx context.Context) error) error {
	switch {
	case l == nil:
		return fmt.Errorf("%w: %s needs a non-nil Locker", ErrInvalidOption, op)
	case fn == nil:
		return fmt.Errorf("%w: %s needs a non-nil function", ErrInvalidOption, op)
	}
	return nil
}

// runHolding runs fn under leases and releases them afterwards, also when fn
// panics (or calls runtime.Goexit): a caller that recovers must not be left
// with keys held and renewed for ever.
func runHolding(ctx context.Context, leases []Lease, fn func(ctx context.Context) error) error {
	fnCtx, cancel := context.WithCancelCause(context.WithValue(ctx, leasesKey{}, leases))
	stops := make([]func(), len(leases))
	for i, lease := range leases {
		stops[i] = afterDone(lease, func() { cancel(lease.Err()) })
	}
	stopWatching := func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
	}
	returned := false
	defer func() {
		if !returned {
			// fn panicked: free the keys, and let the panic go on.
			stopWatching()
			_ = releaseAll(ctx, leases)
		}
	}()
	fnErr := fn(fnCtx)
	returned = true
	stopWatching()

	var lostErr error
	for _, lease := range leases {
		if err := lease.Err(); err != nil && !errors.Is(err, ErrReleased) {
			lostErr = err
		}
	}
	releaseErr := releaseAll(ctx, leases)
	switch {
	case lostErr != nil:
		return errors.Join(fnErr, lostErr)
	case fnErr != nil:
		return fnErr
	}
	// A lease lost between fn's return and its release does not matter: fn
	// ran protected.
	return releaseErr
}

// afterDone calls f in its own goroutine once lease.Done is closed; the stop
// function it returns ends that wait and returns once the goroutine is gone.
func afterDone(lease Lease, f func()) (stop func()) {
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-lease.Done():
			f()
		case <-quit:
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}

// releaseAll releases leases in reverse order with a context that survives
// ctx's cancellation, so that an abandoned caller still frees the keys at
// once instead of at expiry. It returns the errors other than ErrNotHeld.
func releaseAll(ctx context.Context, leases []Lease) error {
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var errs []error
	for _, lease := range slices.Backward(leases) {
		if err := lease.Release(releaseCtx); err != nil && !errors.Is(err, ErrNotHeld) {
			errs = append(errs, fmt.Errorf("lock: release %q: %w", lease.Key(), err))
		}
	}
	return errors.Join(errs...)
}
