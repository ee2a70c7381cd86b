package redlock

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/workpool"
	"github.com/racefree/racefree/lock"
)

// Client is the part of a go-redis client a Locker uses: scripts (EVALSHA with
// a fallback to EVAL) and a PubSub. *redis.Client, *redis.ClusterClient,
// *redis.Ring, the failover client of redis.NewFailoverClient and any
// redis.UniversalClient implement it.
type Client interface {
	redis.Scripter
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// Locker is a lock.Locker over one Redis deployment (New) or over independent
// Redis nodes (NewQuorum). Close it when done: it holds one subscription
// connection per node for waiters.
type Locker struct {
	*lock.Client
	hub    *hub
	quorum *quorum // nil for a single deployment
}

var _ lock.Locker = (*Locker)(nil)

// Close ends the Locker's shared subscription and, for a quorum, waits for
// the releases still running on slow nodes (each bounded by the node
// timeout). It does not close the Redis clients, and leases already granted
// stay valid; Acquire calls that have to wait fail after Close.
func (l *Locker) Close() error {
	err := l.hub.Close()
	if l.quorum != nil {
		l.quorum.closeBackground()
		l.quorum.workers.Close()
	}
	return err
}

// Option configures a Locker.
type Option func(*options)

type options struct {
	defaults    []lock.Option
	driftFactor float64
	driftFloor  time.Duration
	nodeTimeout time.Duration
	queuePoll   time.Duration
}

func defaultOptions() options {
	return options{driftFactor: 0.01, driftFloor: 2 * time.Millisecond, nodeTimeout: 50 * time.Millisecond, queuePoll: 500 * time.Millisecond}
}

// WithDefaults sets lock options (TTL, safety margin, backoff, ...) that apply
// to every call of the Locker before the call's own options.
func WithDefaults(opts ...lock.Option) Option {
	return func(o *options) { o.defaults = append(o.defaults, opts...) }
}

// WithDrift sets the clock drift a quorum grant allows for: factor × TTL +
// floor is subtracted from its validity. Default 0.01 × TTL + 2 ms. Single-node
// Lockers ignore it (their lease margin covers drift).
func WithDrift(factor float64, floor time.Duration) Option {
	return func(o *options) { o.driftFactor, o.driftFloor = factor, floor }
}

// WithNodeTimeout bounds each node's answer in a quorum acquire, refresh or
// release; it is further capped at a tenth of the TTL. Default 50 ms. A node
// slower than that counts as failed for the attempt. go-redis enforces it on
// reads only when the node's client has redis.Options.ContextTimeoutEnabled
// set (see the package documentation).
func WithNodeTimeout(d time.Duration) Option {
	return func(o *options) { o.nodeTimeout = d }
}

// WithQueuePoll sets the longest interval between the attempts of a queued
// waiter, on a single deployment (New) and on every node of a quorum
// (NewQuorum): waiters are woken by the release that makes them the head of
// the queue, and poll only as a safety net against lost messages and
// holders that died without releasing. A waiter keeps its place in the
// queue for 3 × d after each attempt; a waiter that died is skipped after
// that, so a dead waiter delays the queue by at most 4 × d. Default 500 ms.
// Both kinds of Locker wait in their own queue, so they ignore the lock
// package's backoff (lock.WithBackOff).
func WithQueuePoll(d time.Duration) Option {
	return func(o *options) { o.queuePoll = d }
}

// New returns a Locker over one Redis deployment: a single server, a
// Sentinel-managed primary, a Cluster or a Ring. It does no I/O.
func New(client Client, opts ...Option) (*Locker, error) {
	if isNil(client) {
		return nil, errors.New("redlock: New: nil client")
	}
	o, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	h := newHub([]Client{client}, 1)
	s := &single{client: client, hub: h, maxPoll: o.queuePoll}
	return &Locker{Client: lock.New(s, o.defaults...), hub: h}, nil
}

// NewQuorum returns a Redlock Locker over independent Redis nodes (not
// replicas of each other): a grant needs a majority of them. At least three
// nodes are required; an odd number is best. It does no I/O.
func NewQuorum(clients []Client, opts ...Option) (*Locker, error) {
	if len(clients) < 3 {
		return nil, fmt.Errorf("redlock: NewQuorum: %d nodes given, at least 3 independent nodes are needed", len(clients))
	}
	for i, c := range clients {
		if isNil(c) {
			return nil, fmt.Errorf("redlock: NewQuorum: client %d is nil", i)
		}
	}
	o, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	nodes := append([]Client(nil), clients...)
	q := &quorum{nodes: nodes, majority: len(nodes)/2 + 1, opts: o, workers: workpool.New(workerIdle)}
	q.hub = newHub(nodes, q.majority)
	return &Locker{Client: lock.New(q, o.defaults...), hub: q.hub, quorum: q}, nil
}

// workerIdle is how long a quorum's idle node-call worker lives (Close ends
// them all).
const workerIdle = 10 * time.Second

func resolve(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.driftFactor < 0 || o.driftFactor >= 0.5:
		return o, fmt.Errorf("%w: drift factor %v must be in [0, 0.5)", lock.ErrInvalidOption, o.driftFactor)
	case o.driftFloor < 0:
		return o, fmt.Errorf("%w: drift floor %v must not be negative", lock.ErrInvalidOption, o.driftFloor)
	case o.nodeTimeout <= 0:
		return o, fmt.Errorf("%w: node timeout %v must be positive", lock.ErrInvalidOption, o.nodeTimeout)
	case o.queuePoll < time.Millisecond:
		return o, fmt.Errorf("%w: queue poll interval %v must be at least 1ms", lock.ErrInvalidOption, o.queuePoll)
	}
	return o, nil
}

// isNil reports a nil interface or a typed nil pointer inside one.
func isNil(c Client) bool {
	if c == nil {
		return true
	}
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// redisErr wraps a go-redis error so errors.As still reaches it.
func redisErr(op string, err error) error {
	return fmt.Errorf("redlock: %s: %w", op, err)
}
