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

// maxObserved bounds the versions a Locker remembers; past it, it forgets
// them all, which only delays take-overs.
const maxObserved = 4096

// backend is the lock.Backend on a cas.Store.
type backend struct {
	store  cas.Store
	prefix string

	mu       sync.Mutex
	observed map[string]observation // by Store key: a held lease seen by this Locker
}

// observation is a version of a lease item and when this Locker first saw it.
type observation struct {
	version uint64
	since   time.Time
}

var _ lock.Backend = (*backend)(nil)

func (b *backend) Properties() lock.Properties {
	return lock.Properties{
		Name:         "caslock",
		Fencing:      true,
		Linearizable: true,
		LeaseTTL:     true,
		MinTTL:       minTTL,
		MaxKeyLen:    lock.DefaultMaxKeyLen - len(b.prefix),
	}
}

// TryGrant creates the lease item, or takes over one this Locker has seen
// unchanged for its full lease period.
func (b *backend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	skey := b.prefix + key
	owner := newOwner()
	cur, err := b.store.Get(ctx, skey)
	if errors.Is(err, cas.ErrNotFound) {
		sent := time.Now()
		it, err := b.store.Create(ctx, skey, encodeLease(owner, ttl))
		if errors.Is(err, cas.ErrExists) {
			return nil, fmt.Errorf("%w: %w", lock.ErrNotAcquired, err)
		}
		if err != nil {
			return nil, err
		}
		b.forget(skey)
		return newGrant(b, skey, owner, it.Version, ttl, sent), nil
	}
	if err != nil {
		return nil, err
	}
	held, err := decodeLease(cur.Value)
	if err != nil {
		return nil, fmt.Errorf("key %q at version %d: %w", skey, cur.Version, err)
	}
	seen := time.Now() // after the read: the version was current before this instant
	if waited, ok := b.expired(skey, cur.Version, time.Duration(held.TTL), seen); !ok {
		return nil, fmt.Errorf("%w: held at version %d, unchanged for %v of its %v lease",
			lock.ErrNotAcquired, cur.Version, waited.Round(time.Millisecond), time.Duration(held.TTL))
	}
	sent := time.Now()
	it, err := b.store.CompareAndSwap(ctx, skey, cur.Version, encodeLease(owner, ttl))
	if errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
		return nil, fmt.Errorf("%w: lost the take-over of version %d: %w", lock.ErrNotAcquired, cur.Version, err)
	}
	if err != nil {
		return nil, err
	}
	b.forget(skey)
	return newGrant(b, skey, owner, it.Version, ttl, sent), nil
}

// expired records that version of skey was current at seen, and reports
// whether this Locker has seen that same version for at least ttl, and for
// how long.
func (b *backend) expired(skey string, version uint64, ttl time.Duration, seen time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	obs, ok := b.observed[skey]
	if !ok || obs.version != version {
		if len(b.observed) >= maxObserved {
			clear(b.observed)
		}
		b.observed[skey] = observation{version: version, since: seen}
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
