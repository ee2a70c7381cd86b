package redlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/lock"
)

// FencingAssumption is the condition under which Redlock's fencing tokens
// strictly increase (see the package documentation).
const FencingAssumption = "no Redis node loses acknowledged writes: a node that restarts empty, " +
	"fails over to a lagging replica or evicts the fencing counter can make a later majority " +
	"issue a token no greater than one already in use"

// quorum is the Redlock Backend over independent nodes.
type quorum struct {
	nodes    []Client
	majority int
	opts     options
	hub      *hub
}

var (
	_ lock.Backend      = (*quorum)(nil)
	_ lock.Notifier     = (*quorum)(nil)
	_ lock.KeyValidator = (*quorum)(nil)
	_ lock.Expirer      = (*quorumGrant)(nil)
)

// Properties implements lock.Backend.
func (q *quorum) Properties() lock.Properties {
	return lock.Properties{
		Name:              "redlock",
		Fencing:           true,
		FencingAssumption: FencingAssumption,
		FIFO:              false,
		// Grants are decided by a majority of independent servers that
		// trust their clocks, not by one linearizable store.
		Linearizable: false,
		// A minority of nodes may crash; a node that comes back without
		// its data before the TTL has passed can form a second majority.
		SurvivesFailover: false,
		LeaseTTL:         true,
		MinTTL:           50 * time.Millisecond,
		MaxKeyLen:        MaxKeyLen,
	}
}

// ValidateKey implements lock.KeyValidator.
func (q *quorum) ValidateKey(key string) error { return validateKey(key) }

// Subscribe implements lock.Notifier: releases are heard from every node, and
// one release heard from several nodes wakes one waiter.
func (q *quorum) Subscribe(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	return q.hub.Subscribe(ctx, key)
}

// nodeTimeout bounds one node's answer for a grant of ttl.
func (q *quorum) nodeTimeout(ttl time.Duration) time.Duration {
	return max(min(q.opts.nodeTimeout, ttl/10), time.Millisecond)
}

// drift is the clock drift allowed for over ttl.
func (q *quorum) drift(ttl time.Duration) time.Duration {
	return time.Duration(float64(ttl)*q.opts.driftFactor) + q.opts.driftFloor
}

// nodeResult is one node's answer to a script.
type nodeResult struct {
	val int64
	err error
}

// fanOut runs script on every node at once, each bounded by timeout.
func (q *quorum) fanOut(ctx context.Context, timeout time.Duration, script *redis.Script, keys []string, args ...any) []nodeResult {
	res := make([]nodeResult, len(q.nodes))
	var wg sync.WaitGroup
	for i, node := range q.nodes {
		wg.Go(func() {
			nctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res[i].val, res[i].err = script.Run(nctx, node, keys, args...).Int64()
		})
	}
	wg.Wait()
	return res
}

// TryGrant implements lock.Backend: acquire.lua on all nodes in parallel; a
// grant needs a majority within the validity time TTL − elapsed − drift, and
// its token, the maximum of the majority's counters, is written back to a
// majority before it is handed out.
func (q *quorum) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	n := namesOf(key)
	token := newToken()
	timeout := q.nodeTimeout(ttl)
	start := time.Now()

	granted, held := 0, 0
	var fence uint64
	var errs []error
	for _, r := range q.fanOut(ctx, timeout, acquireScript, []string{n.lock, n.fence}, token, milliseconds(ttl)) {
		switch {
		case r.err == nil:
			granted++
			fence = max(fence, uint64(r.val))
		case errors.Is(r.err, redis.Nil):
			held++
		default:
			errs = append(errs, r.err)
		}
	}
	if granted >= q.majority && q.valid(start, ttl) {
		acks := 0
		for _, r := range q.fanOut(ctx, timeout, fenceScript, []string{n.fence}, fence) {
			if r.err == nil {
				acks++
			} else {
				errs = append(errs, r.err)
			}
		}
		if acks >= q.majority && q.valid(start, ttl) {
			g := &quorumGrant{q: q, names: n, token: token, fence: fence}
			g.expiry = start.Add(ttl - q.drift(ttl))
			return g, nil
		}
	}
	// Undo the partial grant everywhere at once, even if ctx is done.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	q.fanOut(uctx, timeout, releaseScript, []string{n.lock}, token, n.channel)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %d of %d nodes granted, %d held by another owner, %d failed (need %d within the validity time): %w",
		lock.ErrNotAcquired, granted, len(q.nodes), held, len(errs), q.majority, redisErr("acquire", errors.Join(errs...)))
}

// valid reports whether a grant of ttl sent at start still has validity left.
func (q *quorum) valid(start time.Time, ttl time.Duration) bool {
	return ttl-time.Since(start)-q.drift(ttl) > 0
}

// quorumGrant is a grant held on a majority of nodes.
type quorumGrant struct {
	q     *quorum
	names names
	token string
	fence uint64

	mu     sync.Mutex
	expiry time.Time // start of the last grant or refresh + TTL − drift
}

// Token implements lock.Grant: the maximum counter of the granting majority.
func (g *quorumGrant) Token() uint64 { return g.fence }

// Expiry implements lock.Expirer.
func (g *quorumGrant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expiry
}

// Refresh implements lock.Grant: it needs a majority within the validity time.
func (g *quorumGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	q := g.q
	start := time.Now()
	ok, notHeld, errs := tally(q.fanOut(ctx, q.nodeTimeout(ttl), refreshScript, []string{g.names.lock}, g.token, milliseconds(ttl)))
	if ok >= q.majority && q.valid(start, ttl) {
		g.mu.Lock()
		g.expiry = start.Add(ttl - q.drift(ttl))
		g.mu.Unlock()
		return nil
	}
	return g.failure(ctx, "refresh", ok, notHeld, errs)
}

// Release implements lock.Grant: it goes to every node.
func (g *quorumGrant) Release(ctx context.Context) error {
	q := g.q
	ok, notHeld, errs := tally(q.fanOut(ctx, q.opts.nodeTimeout, releaseScript, []string{g.names.lock}, g.token, g.names.channel))
	if ok >= q.majority {
		return nil
	}
	return g.failure(ctx, "release", ok, notHeld, errs)
}

// failure is the error of a refresh or release that did not reach a majority:
// ErrNotHeld once too many nodes no longer hold the grant for a majority to
// be possible, the nodes' errors otherwise.
func (g *quorumGrant) failure(ctx context.Context, op string, ok, notHeld int, errs []error) error {
	n := len(g.q.nodes)
	if notHeld > n-g.q.majority {
		return fmt.Errorf("%w: %d of %d nodes no longer hold the grant", lock.ErrNotHeld, notHeld, n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := fmt.Errorf("redlock: %s confirmed by %d of %d nodes within the validity time, need %d", op, ok, n, g.q.majority)
	if len(errs) > 0 {
		err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
	}
	return err
}

// tally counts nodes that answered 1, nodes that answered 0, and errors.
func tally(res []nodeResult) (ok, zero int, errs []error) {
	for _, r := range res {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.val == 1:
			ok++
		default:
			zero++
		}
	}
	return ok, zero, errs
}
