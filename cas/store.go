package cas

import "context"

// Item is one versioned value of a Store.
type Item struct {
	// Key names the item.
	Key string
	// Value is the stored bytes. An empty value round-trips as a zero-length
	// Value, nil or not: callers must not tell the two apart.
	Value []byte
	// Version is 1 after the first Create of the key and grows by one with
	// every successful write, across deletes.
	Version uint64
}

// Store is a versioned compare-and-swap store. Every implementation is safe
// for concurrent use, copies values in and out (an Item returned never aliases
// the Store's memory or the caller's argument), and passes castest.Run.
//
// Errors are sentinels checked with errors.Is, wrapped with the backend's
// native error so that errors.As still reaches it. A done context makes the
// call return an error that wraps the context's error, and write nothing.
type Store interface {
	// Get returns the current item of key, or ErrNotFound when the key was
	// never created or was deleted.
	Get(ctx context.Context, key string) (Item, error)

	// Create stores value under key at the version that follows the key's
	// last one (1 for a new key), or returns ErrExists when the key is live.
	Create(ctx context.Context, key string, value []byte) (Item, error)

	// CompareAndSwap replaces the value of key if its current version is
	// version, and returns the item with the next version. It returns
	// ErrNotFound when the key is not live and ErrConflict when its version
	// is another one, decided atomically with the write.
	CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (Item, error)

	// CompareAndDelete deletes key if its current version is version,
	// leaving a tombstone that keeps the version. It returns ErrNotFound when
	// the key is not live and ErrConflict when its version is another one.
	CompareAndDelete(ctx context.Context, key string, version uint64) error
}
