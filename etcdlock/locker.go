package etcdlock

import (
	"context"
	"errors"
	"time"

	"github.com/racefree/racefree/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPrefix is the etcd key prefix under which lock keys are created when
// no WithPrefix option is given.
const DefaultPrefix = "racefree/lock"

// MinTTL is the shortest TTL a Locker accepts: etcd leases count whole seconds
// and a default etcd server raises shorter TTLs to 2 s.
const MinTTL = 2 * time.Second

// KeepAliveInterval is the longest time between two keep-alives of a session;
// sessions with a TTL under 3*KeepAliveInterval are kept alive every third of
// their TTL.
const KeepAliveInterval = 500 * time.Millisecond

// ErrClosed is the cause of every failure after Locker.Close, and of the loss
// of the leases still held when it was called.
var ErrClosed = errors.New("etcdlock: locker closed")

// ErrNilClient is returned by every call of a Locker built with a nil client.
var ErrNilClient = errors.New("etcdlock: nil *clientv3.Client")

// Locker is a lock.Locker on etcd. Build it with New; release its sessions with
// Close.
type Locker struct {
	client  *lock.Client
	backend *backend
}

var _ lock.Locker = (*Locker)(nil)

// Option configures a Locker.
type Option func(*options)

type options struct {
	prefix   string
	defaults []lock.Option
}

// WithPrefix sets the etcd key prefix under which lock keys are created.
// Default DefaultPrefix. Lockers that must exclude each other need the same
// prefix.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithLockOptions sets defaults applied to every acquisition of the Locker
// before the call's own options, e.g. lock.WithTTL for the session TTL.
func WithLockOptions(opts ...lock.Option) Option {
	return func(o *options) { o.defaults = append(o.defaults, opts...) }
}

// New returns a Locker that keeps its locks in etcd through client. It does no
// I/O: the first acquisition grants the session lease. A nil client makes every
// call fail with ErrNilClient, and a nil Option every Acquire and TryAcquire
// fail with an error wrapping lock.ErrInvalidOption. Close the Locker before
// closing client.
func New(client *clientv3.Client, opts ...Option) *Locker {
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		if opt == nil {
			// New returns no error: a nil lock.Option among the defaults
			// makes every call fail with lock.ErrInvalidOption.
			o.defaults = append(o.defaults, nil)
			continue
		}
		opt(&o)
	}
	b := newBackend(client, o.prefix)
	return &Locker{client: lock.New(b, o.defaults...), backend: b}
}

// Acquire implements lock.Locker: it waits in the key's FIFO queue until the
// lock is granted or ctx is done.
func (l *Locker) Acquire(ctx context.Context, key string, opts ...lock.Option) (lock.Lease, error) {
	return l.client.Acquire(ctx, key, opts...)
}

// TryAcquire implements lock.Locker: it returns an error wrapping
// lock.ErrNotAcquired at once when the key is held or waited for.
func (l *Locker) TryAcquire(ctx context.Context, key string, opts ...lock.Option) (lock.Lease, error) {
	return l.client.TryAcquire(ctx, key, opts...)
}

// Properties returns the guarantees of the etcd backend: fencing, FIFO and
// linearizable, with session-bound grants (LeaseTTL false).
func (l *Locker) Properties() lock.Properties { return l.client.Properties() }

// Close stops the keep-alives and revokes the session leases, which deletes
// every lock key of this Locker; leases still held end with lock.ErrLost
// wrapping ErrClosed. Later calls fail with ErrClosed. It returns the revoke
// errors, if any; the client stays open.
func (l *Locker) Close(ctx context.Context) error { return l.backend.close(ctx) }
