package cas

import "errors"

// Sentinel errors. Check them with errors.Is: adapters wrap them together with
// the native error of their backend, so errors.As still reaches the latter.
var (
	// ErrNotFound means the key was never created or has been deleted.
	ErrNotFound = errors.New("cas: item not found")

	// ErrExists is returned by Create when the key already holds an item.
	ErrExists = errors.New("cas: item already exists")

	// ErrConflict means the item exists but its version is not the one the
	// caller gave: someone else wrote it since the caller read it.
	ErrConflict = errors.New("cas: version conflict")

	// ErrInvalidKey rejects an empty key, one that is too long, one that is
	// not valid UTF-8, or one with characters the backend cannot store.
	ErrInvalidKey = errors.New("cas: invalid key")

	// ErrValueTooLarge rejects a value larger than the Store can keep.
	// Nothing is written.
	ErrValueTooLarge = errors.New("cas: value too large")

	// ErrOutcomeUnknown means a write failed in a way that leaves unknown
	// whether the Store applied it: the request may have been applied and
	// its answer lost (a reset connection, a timeout, a server error after
	// the fact). Read the item to find out; a conditional write sent again
	// as it was would fail its own condition if the first one was applied.
	// Adapters wrap it where they can tell such a failure apart (dynamocas);
	// any error of a write whose context ended on the wire may be one too.
	ErrOutcomeUnknown = errors.New("cas: write outcome unknown")

	// ErrEncode wraps a Codec's error when Typed could not encode a value.
	// Nothing is written.
	ErrEncode = errors.New("cas: cannot encode value")

	// ErrDecode wraps a Codec's error when Typed could not decode a stored
	// value, for example one written by another program.
	ErrDecode = errors.New("cas: cannot decode value")
)
