package lock

import "errors"

// Sentinel errors. Check them with errors.Is: adapters wrap them together with the
// native error of their backend, so errors.As still reaches the latter.
var (
	// ErrNotAcquired means the key is held by someone else (TryAcquire), or a
	// backend refused the grant without waiting.
	ErrNotAcquired = errors.New("lock: not acquired: key is held by another owner")

	// ErrNotHeld is returned by Refresh and Release when the lease is no longer
	// held: it expired, was lost, or was already released.
	ErrNotHeld = errors.New("lock: lease is not held")

	// ErrLost is the cause reported by Lease.Err when the lease ended without a
	// Release: it expired, a refresh failed past the safety margin, or the backend
	// reported the grant gone. It wraps the underlying cause.
	ErrLost = errors.New("lock: lease lost")

	// ErrReleased is reported by Lease.Err after a successful Release.
	ErrReleased = errors.New("lock: lease released")

	// ErrInvalidKey rejects an empty key, one that is too long, or one with
	// characters the backend cannot store.
	ErrInvalidKey = errors.New("lock: invalid key")

	// ErrInvalidOption rejects an option or argument value that cannot work,
	// such as a TTL below the backend's minimum, a safety margin not shorter
	// than the TTL, a nil Option, a nil Backend given to New or a nil function
	// given to Do.
	ErrInvalidOption = errors.New("lock: invalid option")

	// ErrFencingUnsupported is returned when RequireFencing was given to a
	// backend that cannot issue fencing tokens.
	ErrFencingUnsupported = errors.New("lock: backend cannot issue fencing tokens")

	// ErrMaxHold is the cause wrapped in ErrLost when auto-refresh stopped
	// because the maximum hold time was reached.
	ErrMaxHold = errors.New("lock: maximum hold time reached")
)
