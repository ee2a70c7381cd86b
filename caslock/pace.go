package caslock

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"
)

const (
	// headDivisor sets the head's polling interval: the policy's first
	// interval divided by it (1 ms for lock.DefaultBackOff's 5 ms). The
	// head must see a hand-over within a fraction of a short hold.
	headDivisor = 5
	// minPoll is the shortest polling interval, whatever the policy says.
	minPoll = 100 * time.Microsecond
	// ageDivisor sets how the first two waiters' polls slow down while one
	// holder keeps the item: to 1/ageDivisor of the time it has held it, so
	// that a hand-over waits at most about that share of the hold.
	ageDivisor = 8
	// ttlDivisor caps every waiter's polling interval at 1/ttlDivisor of
	// its TTL: a hand-over must be seen well within the TTL (see pacer).
	ttlDivisor = 8
)

// pacer spaces a waiter's polls by its position in the queue.
//
// The head (position 1) polls at the head interval: it is next, and a
// hand-over waits for its poll. So does the waiter behind it, which becomes
// the head at the next hand-over and may have as little as one hold to
// notice. Their interval grows with the time the current owner has had the
// item, up to the policy's current interval, so that a long hold is not
// polled every millisecond. Polls are sequential, so a slow Store is never
// asked more than once at a time by a waiter.
//
// A waiter at position p > 2 cannot be handed the item before p-1 more
// grants. It polls every (p-1)/2 grant cycles, the cycle being estimated
// from how fast its position went down: it halves the distance at every
// poll, sees itself among the first two well before the item is handed to
// it, and the waiters of a key make about 2·ln(n) polls per grant in all
// besides the first two's.
//
// The first two waiters poll at least every eighth of their own TTL
// (ttlDivisor), the TTL that a hand-over to them is written with: the
// waiter behind takes a reservation over once it has seen it unchanged for
// that TTL, so a waiter that polls less often than that loses its turn. An
// eighth keeps the gap between two polls, with a round trip of the Store
// and a late wake-up, under a quarter of the TTL, within which the waiter
// takes the hand-over as it is, without a write of its own (waiter.accept).
// A release hands the item to the head, and the head's leaving to the
// second. Waiters further back are not held to it, so that a long queue
// with a short TTL does not load the Store (and slow the holder's
// refreshes) with polls in proportion to its length: one of them is handed
// the item only when the two ahead of it leave at once, and may then lose
// its turn. The cap matters only for a TTL short next to the policy's
// intervals (under 6 s with lock.DefaultBackOff).
type pacer struct {
	policy backoff.BackOff
	head   time.Duration
	limit  time.Duration // the longest wait: the waiter's TTL / ttlDivisor

	queuedAt  time.Time // when the waiter (re)joined the queue
	queuedPos int       // its position then
}

// start sets the policy and the TTL of the waiter: p.next may be called
// from then on.
func (p *pacer) start(policy backoff.BackOff, ttl time.Duration) {
	policy.Reset()
	first := firstInterval(policy)
	policy.Reset()
	p.limit = max(ttl/ttlDivisor, minPoll)
	p.policy, p.head = policy, min(max(first/headDivisor, minPoll), p.limit)
}

// firstInterval is the policy's first interval, without its randomization
// where it is known.
func firstInterval(policy backoff.BackOff) time.Duration {
	switch p := policy.(type) {
	case *backoff.ExponentialBackOff:
		return p.InitialInterval
	case *backoff.ConstantBackOff:
		return p.Interval
	}
	d := policy.NextBackOff()
	if d == backoff.Stop {
		return 0
	}
	return d
}

// queued records that the waiter joined the queue at position pos at time
// at.
func (p *pacer) queued(pos int, at time.Time) {
	p.queuedAt, p.queuedPos = at, pos
}

// next is the wait before the next poll of a waiter at position pos, at
// now, whose item has had its current owner since ownerSince. ok is false
// when the policy says to stop.
func (p *pacer) next(pos int, now, ownerSince time.Time) (wait time.Duration, ok bool) {
	limit := p.policy.NextBackOff()
	if limit == backoff.Stop {
		return 0, false
	}
	if pos <= 2 {
		// The first two are the ones a hand-over goes to: they poll within
		// their TTL (see pacer).
		wait = min(max(p.head, min(now.Sub(ownerSince)/ageDivisor, limit)), p.limit)
	} else {
		// The grant cycle, from how far the waiter's position went down
		// since it queued: underestimated rather than over (one more grant
		// is counted than seen), so that the waiter polls early, not late.
		cycle := now.Sub(p.queuedAt) / time.Duration(max(1, p.queuedPos-pos+1))
		wait = max(p.head, min(time.Duration(pos-1)*cycle/2, limit))
	}
	// Drawn from [½, 1] of it, so that waiters do not poll in step; never
	// longer, as short waits tend to end late (less so with package
	// finesleep, which the waiter sleeps with).
	return wait/2 + rand.N(wait-wait/2+1), true
}
