package redlock

import (
	"context"
	"errors"
	"time"

	"github.com/racefree/racefree/lock"
)

var _ lock.Waiter = (*quorum)(nil)

// waiterTTL is how long a node keeps a waiter's place without an attempt.
func (q *quorum) waiterTTL() time.Duration { return 3 * q.opts.queuePoll }

// WaitGrant implements lock.Waiter. The caller takes a ticket and attempts;
// refused, it is queued by ticket on every node that answered, and waits for
// a release or undo that makes it the head (its id is published), polling —
// which renews its place — as a safety net. It subscribes to those messages
// before its first attempt when the Locker's channel is subscribed already
// and it waited for the key lately (a contended key); otherwise after the first attempt, and then it attempts
// once more before waiting (a release in between would be unheard). A
// cancelled wait leaves the queues.
func (q *quorum) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	n := namesOf(key)
	w := waiter{id: q.hub.waiterToken(), ticket: time.Now().UnixMicro(), wait: q.waiterTTL()}
	ready, stop, ok := q.hub.SubscribeTokenIfConfirmed(ctx, n, w.id)
	if !ok {
		g, err := q.attempt(ctx, n, ttl, w)
		if !errors.Is(err, lock.ErrNotAcquired) {
			if err != nil {
				q.leave(ctx, n, w)
			}
			return g, err
		}
		w.queued = true
		ready, stop, err = q.hub.SubscribeToken(ctx, n, w.id)
		if err != nil {
			q.leave(ctx, n, w)
			return nil, err
		}
	}
	defer stop()
	p := newPoller(q.opts.queuePoll)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		g, err := q.attempt(ctx, n, ttl, w)
		if !errors.Is(err, lock.ErrNotAcquired) {
			if err != nil {
				q.leave(ctx, n, w)
			}
			return g, err
		}
		w.queued = true
		timer.Reset(p.next())
		select {
		case <-ctx.Done():
			q.leave(ctx, n, w)
			return nil, ctx.Err()
		case <-ready:
		case <-timer.C:
		}
	}
}

// leave takes w out of every node's queue and passes on a wake-up it may
// have swallowed. Should it fail on a node, w's place there dies at its
// deadline. (A grant w's last attempt may have won was undone by that
// attempt.)
func (q *quorum) leave(ctx context.Context, n names, w waiter) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	f := q.launch(lctx, q.allNodes(), nil, leaveTimeout, wakeRule{}, func(ctx context.Context, node Client) nodeResult {
		return callScript(ctx, node, quorumLeaveScript, []string{n.lock, n.wqueue, n.wdeadline}, w.id, wakePrefix)
	})
	f.decide(nil)
	f.waitFollowUps()
}
