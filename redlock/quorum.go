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

	bgMu     sync.Mutex
	bgClosed bool
	bg       sync.WaitGroup // node calls still running after Release returned
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

// nodeResult is one node's answer to a script: an integer, or a string
// (quorum_acquire.lua's holder token); redis.Nil for a nil reply.
type nodeResult struct {
	val int64
	str string
	err error
}

// fanOut runs script on nodes at once, each bounded by timeout.
func fanOut(ctx context.Context, timeout time.Duration, nodes []Client, script *redis.Script, keys []string, args ...any) []nodeResult {
	res := make([]nodeResult, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Go(func() {
			nctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			v, err := script.Run(nctx, node, keys, args...).Result()
			switch v := v.(type) {
			case int64:
				res[i].val = v
			case string:
				res[i].str = v
			default:
				if err == nil {
					err = fmt.Errorf("redlock: unexpected script reply %T", v)
				}
			}
			res[i].err = err
		})
	}
	wg.Wait()
	return res
}

// TryGrant implements lock.Backend: acquire.lua on all nodes in parallel; a
// grant needs a majority within the validity time TTL − elapsed − drift. Its
// token is the maximum of the granting nodes' counters; unless a majority of
// nodes returned that maximum already, it is written back to the nodes below
// it until a majority holds it, before the grant is handed out.
func (q *quorum) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	n := namesOf(key)
	token := newToken()
	timeout := q.nodeTimeout(ttl)
	start := time.Now()

	granted, held := 0, 0
	holders := make(map[string]int, len(q.nodes)) // owner token -> nodes held
	var fence uint64
	var errs []error
	res := fanOut(ctx, timeout, q.nodes, quorumAcquireScript, []string{n.lock, n.fence}, token, milliseconds(ttl))
	for _, r := range res {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.str != "":
			held++
			holders[r.str]++
		default:
			granted++
			fence = max(fence, uint64(r.val))
		}
	}
	if granted >= q.majority && q.valid(start, ttl) {
		var behind []Client // nodes not known to hold fence
		for i, r := range res {
			if r.err != nil || uint64(r.val) != fence {
				behind = append(behind, q.nodes[i])
			}
		}
		atFence := len(q.nodes) - len(behind)
		if atFence < q.majority {
			for _, r := range fanOut(ctx, timeout, behind, fenceScript, []string{n.fence}, fence) {
				if r.err == nil {
					atFence++
				} else {
					errs = append(errs, r.err)
				}
			}
		}
		if atFence >= q.majority && q.valid(start, ttl) {
			g := &quorumGrant{q: q, names: n, token: token, fence: fence}
			g.expiry = start.Add(ttl - q.drift(ttl))
			return g, nil
		}
	}
	// Undo the partial grant everywhere at once, even if ctx is done. Waiters
	// are woken only where a grant of ours was deleted, and only when no
	// other owner holds a majority (that one's release wakes them): after a
	// split vote, where nobody won, the key may be free everywhere.
	announce := "1"
	for _, nodes := range holders {
		if nodes >= q.majority {
			announce = "0"
		}
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	fanOut(uctx, timeout, q.nodes, quorumUndoScript, []string{n.lock}, token, n.channel, announce)
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
	ok, notHeld, errs := tally(fanOut(ctx, q.nodeTimeout(ttl), q.nodes, refreshScript, []string{g.names.lock}, g.token, milliseconds(ttl)))
	if ok >= q.majority && q.valid(start, ttl) {
		g.mu.Lock()
		g.expiry = start.Add(ttl - q.drift(ttl))
		g.mu.Unlock()
		return nil
	}
	return g.failure(ctx, "refresh", ok, notHeld, errs)
}

// Release implements lock.Grant: it goes to every node and returns as soon as
// a majority confirmed it (or cannot). The other nodes' answers are awaited
// in the background, each bounded by the node timeout, and Close waits for
// them.
func (g *quorumGrant) Release(ctx context.Context) error {
	q := g.q
	nodes := len(q.nodes)
	results := make(chan nodeResult, nodes)
	detached := q.startBackground(nodes)
	var local sync.WaitGroup
	bctx := context.WithoutCancel(ctx)
	for _, node := range q.nodes {
		local.Add(1)
		go func() {
			defer local.Done()
			if detached {
				defer q.bg.Done()
			}
			nctx, cancel := context.WithTimeout(bctx, q.opts.nodeTimeout)
			defer cancel()
			var r nodeResult
			r.val, r.err = quorumReleaseScript.Run(nctx, node, []string{g.names.lock}, g.token, g.names.channel).Int64()
			results <- r
		}()
	}
	if !detached { // after Close: nothing may outlive the call
		local.Wait()
	}
	ok, notHeld := 0, 0
	var errs []error
	for answered := 0; answered < nodes && ok < q.majority && ok+nodes-answered >= q.majority; answered++ {
		select {
		case r := <-results:
			switch {
			case r.err != nil:
				errs = append(errs, r.err)
			case r.val == 1:
				ok++
			default:
				notHeld++
			}
		case <-ctx.Done():
			return g.failure(ctx, "release", ok, notHeld, errs)
		}
	}
	if ok >= q.majority {
		return nil
	}
	return g.failure(ctx, "release", ok, notHeld, errs)
}

// startBackground counts n goroutines that may outlive the call starting
// them, unless the Locker is closed (false: the caller must wait for them).
func (q *quorum) startBackground(n int) bool {
	q.bgMu.Lock()
	defer q.bgMu.Unlock()
	if q.bgClosed {
		return false
	}
	q.bg.Add(n)
	return true
}

// closeBackground waits for the goroutines counted by startBackground; later
// calls run in the foreground.
func (q *quorum) closeBackground() {
	q.bgMu.Lock()
	q.bgClosed = true
	q.bgMu.Unlock()
	q.bg.Wait()
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
