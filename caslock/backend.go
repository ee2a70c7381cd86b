package caslock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
)

// minTTL is the shortest lease: a few round trips of a remote Store.
const minTTL = 100 * time.Millisecond

// maxObserved bounds the marks a Locker remembers; past it, it forgets them
// all, which only delays take-overs.
const maxObserved = 4096

// backend is the lock.Backend on a cas.Store.
type backend struct {
	store  cas.Store
	prefix string

	mu       sync.Mutex
	observed map[string]observation // by Store key: a held lease seen by this Locker
}

// observation is a mark of a lease item and when this Locker first saw it.
type observation struct {
	mark  mark
	since time.Time
}

var (
	_ lock.Backend = (*backend)(nil)
	_ lock.Waiter  = (*backend)(nil)
)

func (b *backend) Properties() lock.Properties {
	return lock.Properties{
		Name:         "caslock",
		Fencing:      true,
		FIFO:         true,
		Linearizable: true,
		LeaseTTL:     true,
		MinTTL:       minTTL,
		MaxKeyLen:    lock.DefaultMaxKeyLen - len(b.prefix),
	}
}

// TryGrant creates the lease item, or takes over one whose holder this
// Locker has seen make no write for its full lease period, if no one is
// queued for it. It never passes waiters: a take-over with waiters queued
// hands the item to the queue's head and reports ErrNotAcquired.
func (b *backend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	skey := b.prefix + key
	owner := newOwner()
	it, err := b.store.Get(ctx, skey)
	if errors.Is(err, cas.ErrNotFound) {
		g, err := b.create(ctx, skey, owner, ttl)
		if err != nil {
			b.giveBackIfOurs(ctx, skey, owner)
		}
		if errors.Is(err, cas.ErrExists) {
			return nil, fmt.Errorf("%w: %w", lock.ErrNotAcquired, err)
		}
		if err != nil {
			return nil, err
		}
		return g, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := b.decode(it)
	if err != nil {
		return nil, err
	}
	seen := time.Now() // after the read: the mark was current before this instant
	if waited, ok := b.expired(it.Key, markOf(v, it.Version), v.ttl(), seen); !ok {
		return nil, fmt.Errorf("%w: %s, unchanged for %v of its %v lease",
			lock.ErrNotAcquired, describe(v, it.Version), waited.Round(time.Millisecond), v.ttl())
	}
	g, err := b.takeOver(ctx, skey, it, v, owner, ttl)
	if err != nil {
		b.giveBackIfOurs(ctx, skey, owner)
	}
	switch {
	case errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound):
		return nil, fmt.Errorf("%w: lost the take-over of version %d: %w", lock.ErrNotAcquired, it.Version, err)
	case err != nil:
		return nil, err
	case g == nil:
		return nil, fmt.Errorf("%w: %s, expired: handed to the queue's head", lock.ErrNotAcquired, describe(v, it.Version))
	}
	return g, nil
}

// describe says who has the item, for errors.
func describe(v leaseValue, version uint64) string {
	who := "held"
	if v.Reserved {
		who = "reserved for a waiter"
	}
	return fmt.Sprintf("%s at version %d (epoch %d, %d queued)", who, version, v.Epoch, len(v.Queue))
}

// decode reads the lease in it.
func (b *backend) decode(it cas.Item) (leaseValue, error) {
	v, err := decodeLease(it.Value)
	if err != nil {
		return leaseValue{}, fmt.Errorf("key %q at version %d: %w", it.Key, it.Version, err)
	}
	return v, nil
}

// create creates the lease item of skey for owner.
func (b *backend) create(ctx context.Context, skey, owner string, ttl time.Duration) (*grant, error) {
	v := newLease(owner, ttl)
	sent := time.Now()
	it, err := b.store.Create(ctx, skey, v.encode())
	if err != nil {
		return nil, err
	}
	b.forget(skey)
	return newGrant(b, skey, v, it.Version, sent), nil
}

// claim writes the item it, whose value is v, as held by owner for ttl, with
// a CompareAndSwap on its version.
func (b *backend) claim(ctx context.Context, skey string, it cas.Item, v leaseValue, owner string, ttl time.Duration) (*grant, error) {
	next := v.claimedBy(owner, ttl)
	sent := time.Now()
	written, err := b.store.CompareAndSwap(ctx, skey, it.Version, next.encode())
	if err != nil {
		return nil, err
	}
	b.forget(skey)
	return newGrant(b, skey, next, written.Version, sent), nil
}

// takeOver ends the lease item it, whose value v has been observed
// unchanged for its lease period: it goes to the queue's head, which is
// owner itself (then takeOver claims it for owner) or another waiter (then
// the item is reserved for it and takeOver returns a nil grant). A dead
// waiter the item was reserved for is not in the queue any more: it is
// skipped.
func (b *backend) takeOver(ctx context.Context, skey string, it cas.Item, v leaseValue, owner string, ttl time.Duration) (*grant, error) {
	if len(v.Queue) == 0 || v.Queue[0].ID == owner {
		return b.claim(ctx, skey, it, v, owner, ttl)
	}
	next, _ := v.handedOver()
	if _, err := b.store.CompareAndSwap(ctx, skey, it.Version, next.encode()); err != nil {
		return nil, err
	}
	b.forget(skey)
	return nil, nil
}

// expired records that mark m of skey was current at seen, and reports
// whether this Locker has seen that same mark for at least ttl, and for how
// long.
func (b *backend) expired(skey string, m mark, ttl time.Duration, seen time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	obs, ok := b.observed[skey]
	if !ok || obs.mark != m {
		if len(b.observed) >= maxObserved {
			clear(b.observed)
		}
		b.observed[skey] = observation{mark: m, since: seen}
		return 0, false
	}
	waited := seen.Sub(obs.since)
	return waited, waited >= ttl
}

func (b *backend) forget(skey string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.observed, skey)
}

// giveBackIfOurs passes on the item of skey if owner holds it: a create or
// take-over that failed may still have been applied (its answer was lost, or
// the Store's client sent it again and got a conflict with itself), and no
// caller would ever release it. It runs even when ctx is done, bounded by
// leaveTimeout; failing, the item is taken over after its lease period.
func (b *backend) giveBackIfOurs(ctx context.Context, skey, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	it, err := b.store.Get(ctx, skey)
	if err != nil {
		return
	}
	v, err := b.decode(it)
	if err != nil || v.Owner != owner {
		return
	}
	_ = b.passOn(ctx, skey, it.Version, v)
}
