package redlock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// nodeResult is one node's answer to a script: an integer, or a string
// (quorum_acquire.lua's holder token); redis.Nil for a nil reply.
type nodeResult struct {
	val int64
	str string
	err error
}

// runScript runs script on node, bounded by timeout.
func runScript(ctx context.Context, timeout time.Duration, node Client, script *redis.Script, keys []string, args ...any) nodeResult {
	nctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return callScript(nctx, node, script, keys, args...)
}

// callScript runs script on node; ctx bounds it (a fan-out's calls get the
// node timeout from the fan-out).
func callScript(ctx context.Context, node Client, script *redis.Script, keys []string, args ...any) nodeResult {
	var r nodeResult
	v, err := script.Run(ctx, node, keys, args...).Result()
	switch v := v.(type) {
	case int64:
		r.val = v
	case string:
		r.str = v
	default:
		if err == nil {
			err = fmt.Errorf("redlock: unexpected script reply %T", v)
		}
	}
	r.err = err
	return r
}

// fanout is one script sent to several nodes at once, each call on its own
// goroutine, so that the caller can decide at the first majority and leave
// the slower nodes' calls running. A call that answers after the decision
// runs the follow-up the decision set (an undo, say) on its own node, after
// its own reply: nothing sent later to that node by this fan-out can
// overtake it. The calls are counted in the quorum's background group, which
// Close waits for; after Close, decide waits for them instead. Calls are
// indexed by node; a fan-out may start on some nodes and be extended to
// others before its decision (start).
//
// The caller is woken once per decision, not once per answer (each wake-up
// of a parked goroutine showed in the cost of every grant): a call whose
// answer counts towards the rule's need wakes the caller only when it
// completes the need or is the last one running; any other answer wakes it
// at once.
type fanout struct {
	q        *quorum
	ctx      context.Context
	timeout  time.Duration // bounds each call
	wait     []<-chan struct{}
	run      func(ctx context.Context, node Client) nodeResult
	calls    []nodeCall    // per node of the quorum
	launched []int         // the nodes started, in order
	answers  chan int      // node index of each call as it answers
	wake     chan struct{} // a token when the caller should look at answers
	rule     wakeRule
	running  atomic.Int32 // calls started and not answered yet
	counted  atomic.Int32 // answers that count towards rule.need
	decided  chan struct{}
	after    func(i int, r nodeResult) // set by decide; nil: nothing to follow up
	attached bool                      // some calls are not in the background group
	local    sync.WaitGroup
}

// nodeCall is one node's call of a fan-out.
type nodeCall struct {
	done     chan struct{} // closed once res is set; nil if never started
	res      nodeResult
	followed chan struct{} // closed once the follow-up, if any, ran
}

// wakeRule says which answers a fan-out's caller can wait for in bulk: need
// answers for which counts returns true decide the call (a majority of
// grants, say). A zero rule wakes the caller at every answer.
type wakeRule struct {
	need   int
	counts func(r nodeResult) bool
}

// launch starts run on each of nodes, each call bounded by timeout. The call
// on node i waits for wait[i] (when given) before it sends anything: a
// release waits for the acquire reply of its own node. rule says when the
// caller, waiting in next or await, is woken.
func (q *quorum) launch(ctx context.Context, nodes []int, wait []<-chan struct{}, timeout time.Duration, rule wakeRule, run func(ctx context.Context, node Client) nodeResult) *fanout {
	f := &fanout{
		q:       q,
		ctx:     ctx,
		timeout: timeout,
		wait:    wait,
		run:     run,
		calls:   make([]nodeCall, len(q.nodes)),
		answers: make(chan int, len(q.nodes)),
		wake:    make(chan struct{}, 1),
		rule:    rule,
		decided: make(chan struct{}),
	}
	f.start(nodes)
	return f
}

// start extends f to nodes it has not started on; only before decide. The
// calls it starts share one deadline (one timer, not one per call: timers
// showed in the cost of every grant), except those that must wait for
// another reply first, whose time counts from the end of that wait.
func (f *fanout) start(nodes []int) {
	if len(nodes) == 0 {
		return
	}
	f.running.Add(int32(len(nodes)))
	detached := f.q.startBackground(len(nodes))
	f.attached = f.attached || !detached
	b := &callBatch{}
	b.running.Store(int32(len(nodes)))
	b.ctx, b.cancel = context.WithTimeout(f.ctx, f.timeout)
	for _, i := range nodes {
		c := &f.calls[i]
		c.done = make(chan struct{})
		c.followed = make(chan struct{})
		f.launched = append(f.launched, i)
		f.local.Add(1)
		f.q.workers.Go(func() {
			defer f.local.Done()
			if detached {
				defer f.q.bg.Done()
			}
			ctx := b.ctx
			if i < len(f.wait) && f.wait[i] != nil && !closed(f.wait[i]) {
				<-f.wait[i]
				var cancelOwn context.CancelFunc
				ctx, cancelOwn = context.WithTimeout(f.ctx, f.timeout)
				defer cancelOwn()
			}
			r := f.run(ctx, f.q.nodes[i])
			b.finish()
			c.res = r
			close(c.done)
			f.answers <- i
			f.answered(r) // after the send: a caller it wakes finds the answer
			<-f.decided
			if f.after != nil {
				f.after(i, r)
			}
			close(c.followed)
		})
	}
}

// callBatch is the deadline shared by the calls one start began.
type callBatch struct {
	ctx     context.Context
	cancel  context.CancelFunc
	running atomic.Int32 // calls not finished yet
}

// finish counts one call as finished; the last one releases the deadline.
func (b *callBatch) finish() {
	if b.running.Add(-1) == 0 {
		b.cancel()
	}
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// answered wakes the caller if r, just sent on answers, needs it now (see
// wakeRule).
func (f *fanout) answered(r nodeResult) {
	last := f.running.Add(-1) == 0
	if f.rule.counts != nil && f.rule.counts(r) && int(f.counted.Add(1)) < f.rule.need && !last {
		return // the caller waits for the rest of the need
	}
	select {
	case f.wake <- struct{}{}:
	default: // a token is pending already
	}
}

// next waits for the next call to answer (as far as the rule wakes the
// caller), or for ctx to be done; it returns the call's node index.
func (f *fanout) next(ctx context.Context) (int, nodeResult, error) {
	i, _, err := f.await(ctx, nil)
	if err != nil {
		return -1, nodeResult{}, err
	}
	return i, f.calls[i].res, nil
}

// await is next that also returns, with timedOut set, when timer fires.
func (f *fanout) await(ctx context.Context, timer <-chan time.Time) (i int, timedOut bool, err error) {
	for {
		select {
		case i := <-f.answers:
			return i, false, nil
		default:
		}
		select {
		case <-f.wake:
		case <-timer:
			return -1, true, nil
		case <-ctx.Done():
			return -1, false, ctx.Err()
		}
	}
}

// decide ends the caller's part: every call, answered or not, then runs
// after (nil: nothing) once it has its own reply. It returns at once unless
// the Locker is closed, in which case it waits for all of them.
func (f *fanout) decide(after func(i int, r nodeResult)) {
	f.after = after
	close(f.decided)
	if f.attached {
		f.local.Wait()
	}
}

// waitFollowUps waits for every call and its follow-up.
func (f *fanout) waitFollowUps() {
	for _, i := range f.launched {
		<-f.calls[i].followed
	}
}

// dones are the channels closed as each node's call answers (nil for nodes
// f never started on).
func (f *fanout) dones() []<-chan struct{} {
	d := make([]<-chan struct{}, len(f.calls))
	for _, i := range f.launched {
		d[i] = f.calls[i].done
	}
	return d
}
