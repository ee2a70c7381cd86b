package sqllock

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/racefree/racefree/lock"
)

// WaitGrant implements lock.Waiter on PostgreSQL: a fair queue of waiters
// in the table b.waiters, one row per waiter with its ticket and a deadline.
//
// The first attempt either grants key (free, nobody queued) or queues the
// caller with a new ticket, in one statement. The waiter then listens for
// its ticket (a release notifies the live head of the queue, so one
// release wakes one waiter) and tries again: once at once, since a release
// may have come between its queueing and its listening, then whenever it is
// woken, and every third of the queue TTL, which renews its place. A grant
// goes only to the live head, so the queue is served in ticket order; a
// waiter that stopped renewing (its process died) is passed over once its
// deadline is past. A cancelled waiter removes its row.
func (b *pgLeaseBackend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	g, ticket, err := b.attempt(ctx, key, ttl, 0, b.queueTTL)
	if g != nil || err != nil {
		return grantOrNil(g), b.ctxErr(ctx, err)
	}
	// Queued: from here on every way out but a grant leaves the queue.
	granted := false
	defer func() {
		if !granted {
			b.leaveDetached(ctx, key, ticket)
		}
	}()
	var wake <-chan struct{} // nil: this wait polls
	if b.listener != nil {
		ch, stop, err := b.listener.subscribe(ctx, ticket)
		switch {
		case err == nil:
			defer stop()
			wake = ch
		case ctx.Err() != nil || errors.Is(err, ErrInvalidArgument):
			return nil, b.ctxErr(ctx, err)
		default:
			// The listening connection could not be opened (the server
			// refused its credentials, say): this wait polls, as with
			// PollOnly, and the next one tries to listen again.
		}
	}
	poll := b.pollInterval(wake != nil)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		g, next, err := b.attempt(ctx, key, ttl, ticket, b.queueTTL)
		if err != nil {
			return nil, b.ctxErr(ctx, err)
		}
		if g != nil {
			granted = true
			return g, nil
		}
		ticket = next // unchanged: the renewed place
		timer.Reset(poll())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// grantOrNil keeps a nil *leaseGrant from becoming a non-nil lock.Grant.
func grantOrNil(g *leaseGrant) lock.Grant {
	if g == nil {
		return nil
	}
	return g
}

// ctxErr returns ctx's error as it is once ctx is done (the driver reports a
// statement cut short in its own words).
func (b *pgLeaseBackend) ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// leaveDetached takes ticket out of the queue even when ctx is done.
func (b *pgLeaseBackend) leaveDetached(ctx context.Context, key string, ticket int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = b.leave(ctx, key, ticket) // else its place expires after the queue TTL
}

// pollInterval returns the waits between a waiter's attempts. Listening
// for notifications, it renews every third of the queue TTL. Polling only,
// it starts at 5 ms and doubles (jittered) up to that: without notifications
// the head learns of a release only by asking.
func (b *pgLeaseBackend) pollInterval(listening bool) func() time.Duration {
	renew := b.queueTTL / 3
	if listening {
		return func() time.Duration { return renew }
	}
	next := min(5*time.Millisecond, renew)
	return func() time.Duration {
		d := next/2 + rand.N(next/2+1)
		next = min(2*next, renew)
		return d
	}
}
