package lock

import (
	"context"
	"time"
)

// Properties are the guarantees a backend declares. The conformance suite
// (package locktest) turns each missing property into an explicit skip, and
// RequireFencing checks Fencing.
type Properties struct {
	// Name identifies the backend in errors and test output, e.g. "redis".
	Name string

	// Fencing: tokens strictly increase per key across all grants, so a resource
	// can refuse writes from a holder whose lease has been superseded.
	Fencing bool

	// FencingAssumption, when not empty, names the condition under which the
	// fencing tokens hold (Redlock: no node loses its data).
	FencingAssumption string

	// FIFO: blocked Acquire calls are granted in the order they started waiting.
	FIFO bool

	// Linearizable: grants are decided by a linearizable store (consensus or a
	// single authoritative server), not by a quorum of independent nodes.
	Linearizable bool

	// SurvivesFailover: a held lock stays exclusive when a server fails over.
	SurvivesFailover bool

	// LeaseTTL: the TTL option bounds each lease on the server. False where the
	// grant lives as long as a client session instead (ZooKeeper, etcd sessions,
	// SQL advisory locks); there the session's timeout plays the TTL's part.
	LeaseTTL bool

	// LossDetection bounds the time between the server dropping a grant by itself
	// (session loss, connection death) and Done closing. Zero where loss can only
	// happen by expiry, which Done anticipates by the safety margin.
	LossDetection time.Duration

	// MinTTL is the shortest TTL the backend accepts.
	MinTTL time.Duration

	// MaxKeyLen is the longest key in bytes the backend accepts; zero means
	// DefaultMaxKeyLen.
	MaxKeyLen int
}

// DefaultMaxKeyLen is the key length limit of backends that declare none.
const DefaultMaxKeyLen = 512

// Backend is what an adapter implements: the primitive operations of one store.
// All waiting, renewal, expiry tracking, validation and error policy is done by
// the Client built over it with New.
//
// A Backend may also implement Waiter (it queues and grants by itself, in FIFO
// order if it declares FIFO), Notifier (it can tell a poller when a key may have
// become free) and KeyValidator.
type Backend interface {
	// Properties declares the backend's guarantees. It is called once, by New.
	Properties() Properties

	// TryGrant makes one attempt to grant key for ttl, without waiting. It
	// returns an error wrapping ErrNotAcquired when someone else holds key.
	TryGrant(ctx context.Context, key string, ttl time.Duration) (Grant, error)
}

// Grant is one server-side grant of a key, as a backend sees it.
type Grant interface {
	// Token is the fencing token of the grant.
	Token() uint64

	// Refresh extends the grant to ttl from now, if and only if it is still
	// this grant's. It returns an error wrapping ErrNotHeld otherwise and must
	// never re-create an expired grant.
	Refresh(ctx context.Context, ttl time.Duration) error

	// Release ends the grant if it is still this grant's (token-checked), and
	// returns an error wrapping ErrNotHeld otherwise.
	Release(ctx context.Context) error
}

// Waiter is implemented by backends that wait for a grant themselves: queues of
// sequential nodes or keys, or a server-side blocking call.
type Waiter interface {
	// WaitGrant blocks until key is granted or ctx is done. On ctx done it must
	// leave nothing behind on the server and return the context's error.
	// Its grants must implement Expirer.
	WaitGrant(ctx context.Context, key string, ttl time.Duration) (Grant, error)
}

// Notifier is implemented by polling backends that can hear of releases
// (pub/sub, LISTEN/NOTIFY). The Client then retries on a notification, and
// polls with backoff only as a safety net.
type Notifier interface {
	// Subscribe starts listening for releases of key. The channel receives a
	// value when key may have become free; stop ends the subscription. A backend
	// should wake one subscriber per release, not all of them.
	Subscribe(ctx context.Context, key string) (ready <-chan struct{}, stop func(), err error)
}

// Expirer is implemented by grants whose validity does not simply run from the
// send time of the request that obtained or refreshed them: grants handed over
// after a wait, Redlock grants (less clock drift), session-bound grants.
type Expirer interface {
	// Expiry is the earliest instant, on this process's monotonic clock, at
	// which the server may consider the grant expired.
	Expiry() time.Time
}

// LossReporter is implemented by grants whose backend learns of their loss by
// itself (session expiry, a dead connection, a revoked lease).
type LossReporter interface {
	// Lost is closed when the grant is known to be gone; LossCause then tells why.
	Lost() <-chan struct{}
	// LossCause is the reason for the loss, once Lost is closed.
	LossCause() error
}

// KeyValidator is implemented by backends with rules for keys beyond a length
// limit. ValidateKey returns an error wrapping ErrInvalidKey for a key it
// cannot store.
type KeyValidator interface {
	ValidateKey(key string) error
}
