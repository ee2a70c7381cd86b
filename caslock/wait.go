package caslock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/internal/finesleep"
	"github.com/racefree/racefree/lock"
)

// leaveTimeout bounds leaving the queue, which runs even when the caller's
// context is done.
const leaveTimeout = time.Second

// WaitGrant queues for key in its lease item and polls until the item is
// handed to this call (the hand-over is the grant), the key is free (then
// it creates the item), or the holder is seen dead (then it takes the item
// over, or hands it on to the queue's head). On ctx done it leaves the
// queue, handing on the item if it was handed to this call meanwhile.
func (b *backend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	w := &waiter{b: b, skey: b.prefix + key, id: newOwner(), ttl: ttl, notMine: time.Now()}
	for {
		g, pos, err := w.step(ctx)
		if g != nil {
			return g, nil
		}
		if err != nil {
			w.leave(ctx)
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, err
		}
		if pos == retryNow {
			continue
		}
		if pos == retryPaced {
			pos = 1 // paced as the head is
		}
		if w.pace.policy == nil {
			w.pace.start(lock.BackOffOrDefault(ctx), w.ttl)
		}
		wait, ok := w.pace.next(pos, time.Now(), w.ownerSince)
		if !ok {
			w.leave(ctx)
			return nil, fmt.Errorf("%w: the backoff policy stopped the wait at position %d of the queue", lock.ErrNotAcquired, pos)
		}
		// The head polls every millisecond or less: a time.Timer would
		// wait a millisecond or two (see package finesleep).
		if err := finesleep.Sleep(ctx, wait); err != nil {
			w.leave(ctx)
			return nil, err
		}
	}
}

// retryNow is the position step returns when the item changed under it.
const retryNow = 0

// retryPaced is the position step returns after a write of unknown outcome:
// read the item again after a pause (see waiter.result).
const retryPaced = -1

// maxUnknownOutcomes is how many writes of unknown outcome in a row end a
// wait with the last one's error: a Store whose writes all fail so (a
// server down, or refusing writes it reports as unknown) is not asked for
// ever.
const maxUnknownOutcomes = 8

// waiter is one WaitGrant call.
type waiter struct {
	b    *backend
	skey string
	id   string // queue entry, then the grant's owner
	ttl  time.Duration
	pace pacer

	// notMine is the send time of the last request whose answer showed the
	// item not handed to this waiter: a hand-over found later was written
	// after it.
	notMine time.Time

	owner      string    // the item's Owner at the last read
	ownerSince time.Time // when this waiter first saw it

	unknown int // writes of unknown outcome in a row
}

// step makes one attempt: it reads the item and creates it, accepts it,
// queues for it or takes it over. It returns the grant, or this waiter's
// position in the queue (from 1 at the head), or retryNow.
func (w *waiter) step(ctx context.Context) (*grant, int, error) {
	sent := time.Now()
	it, err := w.b.store.Get(ctx, w.skey)
	if errors.Is(err, cas.ErrNotFound) {
		g, err := w.b.create(ctx, w.skey, w.id, w.ttl)
		return w.result(g, err, retryNow)
	}
	if err != nil {
		return nil, 0, err
	}
	seen := time.Now()
	v, err := w.b.decode(it)
	if err != nil {
		return nil, 0, err
	}
	if v.Owner == w.id {
		g, err := w.accept(ctx, it, v, seen)
		return w.result(g, err, retryNow)
	}
	w.notMine = sent
	if v.Owner != w.owner {
		w.owner, w.ownerSince = v.Owner, seen
	}
	pos := v.position(w.id)
	if pos == 0 {
		// Not queued yet, or dropped: a hand-over this waiter did not take
		// within its TTL went on to the next waiter.
		v = v.enqueued(w.id, w.ttl)
		sent = time.Now()
		it, err = w.b.store.CompareAndSwap(ctx, w.skey, it.Version, v.encode())
		if err != nil {
			return w.result(nil, err, retryNow)
		}
		w.notMine = sent
		pos = len(v.Queue)
		w.pace.queued(pos, seen)
	}
	if _, due := w.b.expired(w.skey, markOf(v, it.Version), v.ttl(), seen); due {
		g, err := w.b.takeOver(ctx, w.skey, it, v, w.id, w.ttl)
		return w.result(g, err, retryNow)
	}
	return nil, pos, nil
}

// accept takes the item it, whose value v was handed to this waiter, read
// at seen. The hand-over is the grant: it was written after w.notMine, so
// the lease runs from then, and its token is the item's version (the
// hand-over's, or above it if waiters have queued since: either way above
// every earlier grant's token and below every later one's). Only a
// hand-over that may be old (this waiter polled slowly) is written again,
// for a full lease from now.
func (w *waiter) accept(ctx context.Context, it cas.Item, v leaseValue, seen time.Time) (*grant, error) {
	if seen.Sub(w.notMine) <= v.ttl()/4 {
		w.b.forget(w.skey)
		return newGrant(w.b, w.skey, v, it.Version, w.notMine), nil
	}
	return w.b.claim(ctx, w.skey, it, v, w.id, w.ttl)
}

// result turns a conditional write's outcome into step's: a refusal because
// the item changed is a position to retry at. A write whose outcome is
// unknown (its answer was lost) is retried after a pause: the next step
// reads the item and finds the write there (the item names this waiter) or
// not; maxUnknownOutcomes of them in a row end the wait with the error.
func (w *waiter) result(g *grant, err error, pos int) (*grant, int, error) {
	switch {
	case errors.Is(err, cas.ErrOutcomeUnknown):
		if w.unknown++; w.unknown >= maxUnknownOutcomes {
			return nil, pos, err
		}
		return nil, retryPaced, nil
	case errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrExists):
		w.unknown = 0
		return nil, pos, nil
	}
	if err == nil {
		w.unknown = 0
	}
	return g, pos, err
}

// leave takes this waiter out of the queue, and hands on (or deletes) the
// item if it was reserved for this waiter, or claimed by a write whose
// answer was lost. It runs with its own timeout even when ctx is done.
// Should it fail, the entry stays in the queue: once at its head, the item
// is reserved for this waiter and taken over a lease period later.
func (w *waiter) leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	for ctx.Err() == nil {
		it, err := w.b.store.Get(ctx, w.skey)
		if err != nil {
			return
		}
		v, err := decodeLease(it.Value)
		if err != nil {
			return
		}
		switch {
		case v.Owner == w.id:
			err = w.b.passOn(ctx, w.skey, it.Version, v.left(w.id))
		case v.position(w.id) > 0:
			_, err = w.b.store.CompareAndSwap(ctx, w.skey, it.Version, v.left(w.id).encode())
		default:
			return
		}
		if !errors.Is(err, cas.ErrConflict) {
			return
		}
	}
}

// passOn ends the holding of the item at version, whose value is v: it
// reserves it for the queue's head, or deletes it if no one is queued.
func (b *backend) passOn(ctx context.Context, skey string, version uint64, v leaseValue) error {
	next, ok := v.handedOver()
	if !ok {
		return b.store.CompareAndDelete(ctx, skey, version)
	}
	_, err := b.store.CompareAndSwap(ctx, skey, version, next.encode())
	return err
}
