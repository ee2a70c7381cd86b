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

// cleanupTimeout bounds the delete a grant makes of its own item at expiry.
const cleanupTimeout = 5 * time.Second

// grant is one holding of a lease item.
type grant struct {
	b     *backend
	skey  string
	owner string
	token uint64

	mu      sync.Mutex // held across the Store calls of Refresh, Release and expiry
	version uint64     // the version this grant last wrote
	expires time.Time  // local: send time of the last write plus its TTL
	ended   bool
	timer   *time.Timer
}

var _ lock.Grant = (*grant)(nil)

// newGrant is the grant of skey written at version by a request sent at
// sent.
func newGrant(b *backend, skey, owner string, version uint64, ttl time.Duration, sent time.Time) *grant {
	g := &grant{b: b, skey: skey, owner: owner, token: version, version: version, expires: sent.Add(ttl)}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timer = time.AfterFunc(time.Until(g.expires), g.expire)
	return g
}

// Token is the version of the grant's first write.
func (g *grant) Token() uint64 { return g.token }

// Refresh writes the lease again at the next version, if it is still this
// grant's and has not expired.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	sent := time.Now()
	if g.ended || !sent.Before(g.expires) {
		return g.notHeld("expired or ended")
	}
	value := encodeLease(g.owner, ttl)
	it, err := g.b.store.CompareAndSwap(ctx, g.skey, g.version, value)
	if errors.Is(err, cas.ErrConflict) && g.adopt(ctx) {
		it, err = g.b.store.CompareAndSwap(ctx, g.skey, g.version, value)
	}
	switch {
	case errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound):
		g.endLocked()
		return g.notHeld(err.Error())
	case err != nil:
		return err
	}
	g.version = it.Version
	g.expires = sent.Add(ttl)
	g.timer.Reset(time.Until(g.expires))
	return nil
}

// Release deletes the lease item at the version this grant wrote.
func (g *grant) Release(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return g.notHeld("expired or ended")
	}
	err := g.b.store.CompareAndDelete(ctx, g.skey, g.version)
	if errors.Is(err, cas.ErrConflict) && g.adopt(ctx) {
		err = g.b.store.CompareAndDelete(ctx, g.skey, g.version)
	}
	if err != nil && !errors.Is(err, cas.ErrConflict) && !errors.Is(err, cas.ErrNotFound) {
		return err
	}
	g.endLocked()
	if err != nil {
		return g.notHeld(err.Error())
	}
	return nil
}

// adopt handles a write of this grant that was refused for its version: a
// refresh whose reply was lost (a timeout after the Store applied it) leaves
// the item at a later version still written by this grant's owner. It reads
// the item and takes its version if the owner is this grant's. g.mu is held.
func (g *grant) adopt(ctx context.Context) bool {
	it, err := g.b.store.Get(ctx, g.skey)
	if err != nil {
		return false
	}
	v, err := decodeLease(it.Value)
	if err != nil || v.Owner != g.owner || it.Version < g.version {
		return false
	}
	g.version = it.Version
	return true
}

// expire runs at the grant's local expiry: a lease that ran out in a live
// process deletes its own item, token-checked, so that waiters need not
// observe it for a lease period. A refresh in between moves the expiry.
func (g *grant) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	if wait := time.Until(g.expires); wait > 0 {
		g.timer.Reset(wait)
		return
	}
	g.ended = true
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_ = g.b.store.CompareAndDelete(ctx, g.skey, g.version) // refused if taken over: nothing to do
}

// endLocked marks the grant ended. g.mu is held.
func (g *grant) endLocked() {
	g.ended = true
	g.timer.Stop()
}

func (g *grant) notHeld(why string) error {
	return fmt.Errorf("%w: token %d of %q: %s", lock.ErrNotHeld, g.token, g.skey, why)
}
