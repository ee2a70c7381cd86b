package redlock

import (
	"context"
	"fmt"
	"sync"
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
	var r nodeResult
	v, err := script.Run(nctx, node, keys, args...).Result()
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
// Close waits for; after Close, decide waits for them instead.
type fanout struct {
	calls    []nodeCall
	answers  chan int // index of each call as it answers
	decided  chan struct{}
	after    func(i int, r nodeResult) // set by decide; nil: nothing to follow up
	detached bool
	local    sync.WaitGroup
}

// nodeCall is one node's call of a fan-out.
type nodeCall struct {
	done     chan struct{} // closed once res is set
	res      nodeResult
	followed chan struct{} // closed once the follow-up, if any, ran
}

// launch starts run on each of nodes. A call i waits for wait[i] (when given)
// before it sends anything: a release waits for the acquire reply of its own
// node.
func (q *quorum) launch(ctx context.Context, nodes []int, wait []<-chan struct{}, run func(ctx context.Context, node Client) nodeResult) *fanout {
	f := &fanout{
		calls:   make([]nodeCall, len(nodes)),
		answers: make(chan int, len(nodes)),
		decided: make(chan struct{}),
	}
	f.detached = q.startBackground(len(nodes))
	for i, node := range nodes {
		f.calls[i].done = make(chan struct{})
		f.calls[i].followed = make(chan struct{})
		f.local.Add(1)
		go func() {
			defer f.local.Done()
			if f.detached {
				defer q.bg.Done()
			}
			if wait != nil && wait[i] != nil {
				<-wait[i]
			}
			r := run(ctx, q.nodes[node])
			f.calls[i].res = r
			close(f.calls[i].done)
			f.answers <- i
			<-f.decided
			if f.after != nil {
				f.after(i, r)
			}
			close(f.calls[i].followed)
		}()
	}
	return f
}

// next waits for the next call to answer, or for ctx to be done.
func (f *fanout) next(ctx context.Context) (int, nodeResult, error) {
	select {
	case i := <-f.answers:
		return i, f.calls[i].res, nil
	case <-ctx.Done():
		return -1, nodeResult{}, ctx.Err()
	}
}

// decide ends the caller's part: every call, answered or not, then runs
// after (nil: nothing) once it has its own reply. It returns at once unless
// the Locker is closed, in which case it waits for all of them.
func (f *fanout) decide(after func(i int, r nodeResult)) {
	f.after = after
	close(f.decided)
	if !f.detached {
		f.local.Wait()
	}
}

// waitFollowUps waits for every call and its follow-up.
func (f *fanout) waitFollowUps() {
	for i := range f.calls {
		<-f.calls[i].followed
	}
}

// dones are the channels closed as each call answers.
func (f *fanout) dones() []<-chan struct{} {
	d := make([]<-chan struct{}, len(f.calls))
	for i := range f.calls {
		d[i] = f.calls[i].done
	}
	return d
}
