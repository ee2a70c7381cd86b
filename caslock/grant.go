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

// cleanupTimeout bounds the hand-over or delete a grant makes of its own
// item at expiry.
const cleanupTimeout = 5 * time.Second

// grant is one holding of a lease item.
type grant struct {
	b     *backend
	skey  string
	owner string
	token uint64

	mu      sync.Mutex // held across the Store calls of Refresh, Release and expiry
	version uint64     // the item's version this grant last wrote or read
	cur     leaseValue // the item's value at version
	expires time.Time  // local: send time of the last write plus its TTL
	ended   bool
	timer   *time.Timer
}

var (
	_ lock.Grant   = (*grant)(nil)
	_ lock.Expirer = (*grant)(nil)
)

// newGrant is the grant whose write of cur, sent at sent, made the item's
// version.
func newGrant(b *backend, skey string, cur leaseValue, version uint64, sent time.Time) *grant {
	g := &grant{b: b, skey: skey, owner: cur.Owner, token: version, version: version, cur: cur, expires: sent.Add(cur.ttl())}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timer = time.AfterFunc(time.Until(g.expires), g.expire)
	return g
}

// Token is the version of the grant's first write.
func (g *grant) Token() uint64 { return g.token }

// Expiry is the send time of the grant's last write plus its TTL.
func (g *grant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expires
}

// Refresh writes the lease again with the next epoch, keeping the queue, if
// it is still this grant's and has not expired.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	sent := time.Now()
	if g.ended || !sent.Before(g.expires) {
		return g.notHeld("expired or ended")
	}
	var next leaseValue
	var written cas.Item
	err := g.write(ctx, func() (err error) {
		if !time.Now().Before(g.expires) {
			return errExpired
		}
		next = g.cur.refreshed(ttl)
		written, err = g.b.store.CompareAndSwap(ctx, g.skey, g.version, next.encode())
		return err
	})
	switch {
	case errors.Is(err, errExpired):
		return g.notHeld(err.Error())
	case errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound):
		g.endLocked()
		return g.notHeld(err.Error())
	case err != nil:
		return err
	}
	g.version, g.cur = written.Version, next
	g.expires = sent.Add(ttl)
	g.timer.Reset(time.Until(g.expires))
	return nil
}

// errExpired stops a Refresh that conflicts with waiters' writes past the
// grant's expiry.
var errExpired = errors.New("expired while retrying")

// Release hands the lease item to the queue's head, or deletes it if no one
// is queued, at the version this grant last wrote or read.
func (g *grant) Release(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return g.notHeld("expired or ended")
	}
	err := g.write(ctx, func() error { return g.b.passOn(ctx, g.skey, g.version, g.cur) })
	if err != nil && !errors.Is(err, cas.ErrConflict) && !errors.Is(err, cas.ErrNotFound) {
		return err
	}
	g.endLocked()
	if err != nil {
		return g.notHeld(err.Error())
	}
	return nil
}

// write runs the conditional write op of this grant until it is not refused
// for its version while the item is still this grant's: waiters write the
// item to queue and leave, and a refresh whose reply was lost (a timeout
// after the Store applied it) leaves it at a later version too. g.mu is held.
func (g *grant) write(ctx context.Context, op func() error) error {
	for {
		err := op()
		if !errors.Is(err, cas.ErrConflict) {
			return err
		}
		mine, rerr := g.reread(ctx)
		if rerr != nil {
			return rerr
		}
		if !mine {
			return err
		}
	}
}

// reread reads the item and takes its version and value if it is still
// this grant's. g.mu is held.
func (g *grant) reread(ctx context.Context) (bool, error) {
	it, err := g.b.store.Get(ctx, g.skey)
	if errors.Is(err, cas.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v, err := decodeLease(it.Value)
	if err != nil || v.Owner != g.owner || it.Version < g.version {
		return false, nil
	}
	g.version, g.cur = it.Version, v
	return true, nil
}

// expire runs at the grant's local expiry: a lease that ran out in a live
// process hands its item on (or deletes it), token-checked, so that waiters
// need not observe it for a lease period. A refresh in between moves the
// expiry.
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
	// Refused if taken over: nothing to do.
	_ = g.write(ctx, func() error { return g.b.passOn(ctx, g.skey, g.version, g.cur) })
}

// endLocked marks the grant ended. g.mu is held.
func (g *grant) endLocked() {
	g.ended = true
	g.timer.Stop()
}

func (g *grant) notHeld(why string) error {
	return fmt.Errorf("%w: token %d of %q: %s", lock.ErrNotHeld, g.token, g.skey, why)
}
