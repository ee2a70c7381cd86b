package redlock

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/racefree/racefree/internal/workpool"
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
	workers  *workpool.Pool // runs the node calls

	bgMu     sync.Mutex
	bgClosed bool
	bg       sync.WaitGroup // node calls still running after Release returned

	pendingMu sync.Mutex
	pending   map[string]*fanout // per lock name: a release some nodes have not answered yet
}

var (
	_ lock.Backend      = (*quorum)(nil)
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

// nodeTimeout bounds one node's answer for a grant of ttl.
func (q *quorum) nodeTimeout(ttl time.Duration) time.Duration {
	return max(min(q.opts.nodeTimeout, ttl/10), time.Millisecond)
}

// drift is the clock drift allowed for over ttl.
func (q *quorum) drift(ttl time.Duration) time.Duration {
	return time.Duration(float64(ttl)*q.opts.driftFactor) + q.opts.driftFloor
}

// allNodes lists the indices of q's nodes.
func (q *quorum) allNodes() []int {
	idx := make([]int, len(q.nodes))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// TryGrant implements lock.Backend: one attempt (see attempt) that does not
// queue the caller; it is refused while anyone is queued.
func (q *quorum) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	return q.attempt(ctx, namesOf(key), ttl, waiter{})
}

// waiter is a caller's place in the nodes' queues: its id, its ticket (the
// order among waiters) and how long a node keeps it without an attempt.
type waiter struct {
	id     string
	ticket int64 // µs on this process's clock at the first attempt
	wait   time.Duration
	queued bool // an earlier attempt was refused: it may be queued on any node
}

// attempt is one grant attempt: acquire.lua on the majority of nodes
// preferred for the key (preferred; all nodes for a waiter that queued
// already), and on the others too as soon as one of
// those refuses, fails or is slow to answer (hedgeDelay); a grant needs a
// majority within the validity time TTL − elapsed − drift, and is decided at
// the first majority that agrees: the slower nodes are not waited for. Any
// majority intersects any other, so asking a majority first is as safe as
// asking all; on healthy nodes it spares the others the work. Its token is
// the maximum of the granting nodes' counters; unless a majority of nodes
// returned that maximum already, it is written back to the nodes below it
// until a majority holds it, before the grant is handed out. A refused
// attempt is undone on each node that may hold it, each after that node's
// answer, and a waiting caller keeps its place.
func (q *quorum) attempt(ctx context.Context, n names, ttl time.Duration, w waiter) (lock.Grant, error) {
	token := newToken()
	wait := milliseconds(w.wait)
	timeout := q.nodeTimeout(ttl)
	start := time.Now()
	nodes := len(q.nodes)

	// A node that has not answered this Locker's last release of key yet
	// gets the attempt after it, so a release that returned at a majority
	// cannot refuse the next grant of the same Locker.
	first, rest := q.preferred(n.lock)
	if w.queued {
		// A queued waiter is woken by releases that reach the nodes in any
		// order: it asks them all at once.
		first, rest = q.allNodes(), nil
	}
	f := q.launch(ctx, first, q.pendingRelease(n.lock), timeout, wakeRule{need: q.majority, counts: isGrant}, func(ctx context.Context, node Client) nodeResult {
		return callScript(ctx, node, quorumAcquireScript, []string{n.lock, n.fence, n.wqueue, n.wdeadline},
			token, milliseconds(ttl), w.id, w.ticket, wait, wakePrefix)
	})
	hedge := time.NewTimer(q.hedgeDelay(timeout))
	defer hedge.Stop()
	extend := func() {
		if len(rest) > 0 {
			f.start(rest)
			rest = nil
		}
	}
	granted, held, answered := 0, 0, 0
	counters := make([]int64, nodes) // granting nodes' counters, 0 elsewhere
	var fence uint64
	var errs []error
	for granted < q.majority && granted+len(f.launched)-answered+len(rest) >= q.majority {
		if answered == len(f.launched) {
			extend()
		}
		// Every call ends within the node timeout.
		i, hedged, _ := f.await(context.Background(), hedge.C)
		if hedged {
			extend()
			continue
		}
		answered++
		switch r := f.calls[i].res; {
		case r.err != nil:
			errs = append(errs, r.err)
			extend()
		case r.str != "":
			held++
			extend()
		default: // isGrant
			granted++
			counters[i] = r.val
			fence = max(fence, uint64(r.val))
		}
	}
	if granted >= q.majority && q.valid(start, ttl) {
		var behind []int // nodes not known to hold fence
		for i, c := range counters {
			if uint64(c) != fence {
				behind = append(behind, i)
			}
		}
		atFence := nodes - len(behind)
		if atFence < q.majority {
			var ferrs []error
			atFence, ferrs = q.writeFence(ctx, n, fence, timeout, behind, q.majority-atFence)
			atFence += nodes - len(behind)
			errs = append(errs, ferrs...)
		}
		if atFence >= q.majority && q.valid(start, ttl) {
			f.decide(nil) // late grants are ours: Release deletes them
			g := &quorumGrant{q: q, names: n, token: token, waiter: w.id, fence: fence, acquired: f.dones()}
			// A waiter that queued may be queued on every node: its
			// release takes it out of them all.
			g.nodes = slices.Clone(f.launched)
			if w.queued {
				g.nodes = q.allNodes()
			}
			g.expiry = start.Add(ttl - q.drift(ttl))
			return g, nil
		}
	}
	// Undo the partial grant on each node that may hold it, even if ctx is
	// done, each after that node's own acquire reply, before attempt
	// returns (a refusal is not worth leaving keys behind for). A waiting
	// caller keeps its place; where a key of ours was deleted, the head of
	// the queue is woken if it is someone else.
	uctx := context.WithoutCancel(ctx)
	f.decide(func(i int, r nodeResult) {
		if r.err == nil && r.str != "" {
			return // held by another owner: nothing of ours there
		}
		_ = runScript(uctx, timeout, q.nodes[i], quorumUndoScript, []string{n.lock, n.wqueue, n.wdeadline},
			token, w.id, w.ticket, wait, wakePrefix)
	})
	f.waitFollowUps()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %d of %d nodes granted, %d held by another owner, %d failed (need %d within the validity time): %w",
		lock.ErrNotAcquired, granted, nodes, held, len(errs), q.majority, redisErr("acquire", errors.Join(errs...)))
}

// isGrant reports whether r is a node's grant in answer to quorum_acquire.lua.
func isGrant(r nodeResult) bool { return r.err == nil && r.str == "" }

// isConfirmed reports whether r is a node's 1 (released, refreshed, adopted).
func isConfirmed(r nodeResult) bool { return r.err == nil && r.val == 1 }

// isOK reports whether r is a node's answer without error.
func isOK(r nodeResult) bool { return r.err == nil }

// preferred splits the nodes into the majority a grant of lockName asks
// first — consecutive nodes from one chosen by a hash of the name, so that
// every Locker asks the same ones for a key (their fencing counters stay
// level, with no write-back) and different keys spread over the nodes — and
// the others.
func (q *quorum) preferred(lockName string) (first, rest []int) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(lockName))
	from := int(h.Sum32() % uint32(len(q.nodes)))
	for k := range len(q.nodes) {
		i := (from + k) % len(q.nodes)
		if k < q.majority {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	return first, rest
}

// publishers maps each node to "1" if its release of lockName wakes the
// next waiter (the preferred majority), "0" otherwise.
func (q *quorum) publishers(lockName string) map[Client]string {
	first, _ := q.preferred(lockName)
	pub := make(map[Client]string, len(q.nodes))
	for _, n := range q.nodes {
		pub[n] = "0"
	}
	for _, i := range first {
		pub[q.nodes[i]] = "1"
	}
	return pub
}

// hedgeDelay is how long an attempt waits for its preferred majority before
// it asks the other nodes as well.
func (q *quorum) hedgeDelay(timeout time.Duration) time.Duration {
	return max(timeout/4, time.Millisecond)
}

// writeFence raises the counter to fence on the nodes behind (fence.lua only
// ever raises it, so it needs no order with the acquire) and returns once need of them confirmed or cannot.
func (q *quorum) writeFence(ctx context.Context, n names, fence uint64, timeout time.Duration, behind []int, need int) (int, []error) {
	f := q.launch(ctx, behind, nil, timeout, wakeRule{need: need, counts: isOK}, func(ctx context.Context, node Client) nodeResult {
		return callScript(ctx, node, fenceScript, []string{n.fence}, fence)
	})
	defer f.decide(nil)
	ok := 0
	var errs []error
	for answered := 0; answered < len(behind) && ok < need && ok+len(behind)-answered >= need; answered++ {
		_, r, _ := f.next(context.Background())
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			ok++
		}
	}
	return ok, errs
}

// valid reports whether a grant of ttl sent at start still has validity left.
func (q *quorum) valid(start time.Time, ttl time.Duration) bool {
	return ttl-time.Since(start)-q.drift(ttl) > 0
}

// quorumGrant is a grant held on a majority of nodes.
type quorumGrant struct {
	q        *quorum
	names    names
	token    string
	waiter   string // the holder's waiter id, taken out of the queues by Release
	nodes    []int  // the nodes Refresh and Release go to: those the grant was asked of (under mu)
	fence    uint64
	acquired []<-chan struct{} // per node: closed once its acquire answered

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

// Refresh implements lock.Grant: it needs a majority within the validity
// time, and returns at the first majority; the other nodes' answers do not
// matter (refresh.lua never re-creates a key).
func (g *quorumGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	q := g.q
	start := time.Now()
	timeout := q.nodeTimeout(ttl)
	asked := g.askedNodes()
	f := q.launch(ctx, asked, nil, timeout, wakeRule{need: q.majority, counts: isConfirmed}, func(ctx context.Context, node Client) nodeResult {
		return callScript(ctx, node, refreshScript, []string{g.names.lock}, g.token, milliseconds(ttl))
	})
	ok, notHeld, errs := g.collect(ctx, f, q.majority)
	f.decide(nil)
	if rest := g.unaskedNodes(); ok < q.majority && ok+len(rest) >= q.majority && ctx.Err() == nil {
		// A grant that asked only a majority lost one of its nodes: take
		// the key under the same token on the nodes it did not ask, where
		// it is free (adopt.lua). While this grant is valid no one else
		// can hold a majority, so this only adds nodes to its own.
		g.addNodes(rest)
		fa := q.launch(ctx, rest, nil, timeout, wakeRule{need: q.majority - ok, counts: isConfirmed}, func(ctx context.Context, node Client) nodeResult {
			return callScript(ctx, node, adoptScript, []string{g.names.lock}, g.token, milliseconds(ttl))
		})
		more, notHeldMore, moreErrs := g.collect(ctx, fa, q.majority-ok)
		fa.decide(nil)
		ok, notHeld, errs = ok+more, notHeld+notHeldMore, append(errs, moreErrs...)
	}
	if ok >= q.majority && q.valid(start, ttl) {
		g.mu.Lock()
		g.expiry = start.Add(ttl - q.drift(ttl))
		g.mu.Unlock()
		return nil
	}
	return g.failure(ctx, "refresh", ok, notHeld, errs)
}

// askedNodes are the nodes the grant holds or may hold.
func (g *quorumGrant) askedNodes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.nodes)
}

// unaskedNodes are the nodes the grant has never asked.
func (g *quorumGrant) unaskedNodes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var rest []int
	for i := range g.q.nodes {
		if !slices.Contains(g.nodes, i) {
			rest = append(rest, i)
		}
	}
	return rest
}

// addNodes adds nodes that the grant may now hold, for Refresh and Release.
func (g *quorumGrant) addNodes(nodes []int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes = append(g.nodes, nodes...)
}

// Release implements lock.Grant: it goes to every node the grant was asked
// of (every node, for a waiter that queued), each after that node's own
// acquire reply (so a late grant cannot land after its release),
// and returns as soon as a majority confirmed it (or cannot). The other
// nodes' answers are awaited in the background, each bounded by the node
// timeout, and Close waits for them.
func (g *quorumGrant) Release(ctx context.Context) error {
	q := g.q
	bctx := context.WithoutCancel(ctx)
	// Only the key's preferred majority wakes the next waiter: hearing the
	// wake-up from the two other nodes as well would only cost the head's
	// Locker CPU.
	publish := q.publishers(g.names.lock)
	f := q.launch(bctx, g.askedNodes(), g.acquired, q.opts.nodeTimeout, wakeRule{need: q.majority, counts: isConfirmed}, func(ctx context.Context, node Client) nodeResult {
		return callScript(ctx, node, quorumReleaseScript, []string{g.names.lock, g.names.wqueue, g.names.wdeadline},
			g.token, g.waiter, wakePrefix, publish[node])
	})
	q.setPendingRelease(g.names.lock, f)
	var remaining atomic.Int32
	remaining.Store(int32(len(f.launched)))
	defer f.decide(func(int, nodeResult) {
		if remaining.Add(-1) == 0 {
			q.clearPendingRelease(g.names.lock, f)
		}
	})
	ok, notHeld, errs := g.collect(ctx, f, q.majority)
	if ok >= q.majority {
		return nil
	}
	return g.failure(ctx, "release", ok, notHeld, errs)
}

// collect counts the nodes of f that answered 1, those that answered 0, and
// errors, until need nodes answered 1, or cannot, or ctx is done.
func (g *quorumGrant) collect(ctx context.Context, f *fanout, need int) (ok, notHeld int, errs []error) {
	nodes := len(f.launched)
	for answered := 0; answered < nodes && ok < need && ok+nodes-answered >= need; answered++ {
		_, r, err := f.next(ctx)
		switch {
		case err != nil:
			return ok, notHeld, errs
		case r.err != nil:
			errs = append(errs, r.err)
		case r.val == 1: // isConfirmed
			ok++
		default:
			notHeld++
		}
	}
	return ok, notHeld, errs
}

// pendingRelease returns, per node, a channel closed once the node answered
// the Locker's last release of lockName, or nil when all nodes have.
func (q *quorum) pendingRelease(lockName string) []<-chan struct{} {
	q.pendingMu.Lock()
	defer q.pendingMu.Unlock()
	if f := q.pending[lockName]; f != nil {
		return f.dones()
	}
	return nil
}

func (q *quorum) setPendingRelease(lockName string, f *fanout) {
	q.pendingMu.Lock()
	defer q.pendingMu.Unlock()
	if q.pending == nil {
		q.pending = make(map[string]*fanout)
	}
	q.pending[lockName] = f
}

// clearPendingRelease forgets f once every node answered it, unless a later
// release took its place.
func (q *quorum) clearPendingRelease(lockName string, f *fanout) {
	q.pendingMu.Lock()
	defer q.pendingMu.Unlock()
	if q.pending[lockName] == f {
		delete(q.pending, lockName)
	}
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
