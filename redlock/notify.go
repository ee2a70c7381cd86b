package redlock

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// errClosed is returned by Acquire on a Locker after Close.
var errClosed = errors.New("redlock: Locker is closed")

// wakePrefix starts the name of every Locker's wake channel; the rest is the
// Locker's id (hub.id), with which the tokens of its waiters start, so that
// a script can name the channel of the waiter it wakes.
const wakePrefix = "racefree:redlock:wake:"

// hub is a Locker's one shared subscription to release messages: a channel
// of its own (wakePrefix + id), on which the scripts publish only for its
// waiters. It keeps one go-redis PubSub per connection route (one for a
// single server, one per node of a quorum, one per shard of a Ring). A
// release message names the token (single deployment) or waiter id (quorum)
// of the head of the server's queue, and the hub wakes that waiter.
//
// A channel per Locker rather than per lock key: a release is sent to the
// one Locker whose waiter it wakes, not to every Locker with a waiter on the
// key (with N of them queued, a per-key channel delivered N messages per
// release), and a Locker subscribes once, whatever keys it waits for.
type hub struct {
	id          string // hex, idLen characters
	channel     string // wakePrefix + id
	sources     []Client
	need        int           // confirmed routes to wait for before a waiter may rely on messages
	confirmWait time.Duration // how long to wait for them; past it, the backoff poll covers

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	routes  map[subscriber]*route
	tokens  map[string]chan struct{} // per owner token or waiter id: waiters
	waited  map[string]time.Time     // per lock name: when a waiter of it last subscribed or left
}

// subscriber opens a PubSub: a Client, or the shard of a Ring that holds a key.
type subscriber interface {
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
}

// shardRouter is implemented by *redis.Ring: a script runs on the shard of its
// first key, so the channel it publishes on must be heard on that shard.
type shardRouter interface {
	GetShardClientForKey(key string) (*redis.Client, error)
}

// idLen is the length of a hub id, which the scripts take from the start of
// a waiter's token: string.sub(head, 1, 16) in queue.lua, quorum_queue.lua
// and quorum_acquire.lua, which must change with it.
const idLen = 16

func newHub(sources []Client, need int) *hub {
	id := newToken()[:idLen]
	return &hub{
		id:          id,
		channel:     wakePrefix + id,
		sources:     sources,
		need:        need,
		confirmWait: time.Second,
		closing:     make(chan struct{}),
		routes:      make(map[subscriber]*route),
		tokens:      make(map[string]chan struct{}),
		waited:      make(map[string]time.Time),
	}
}

// waiterToken returns a new owner token (single deployment) or waiter id
// (quorum) for a waiter of this hub: random, and starting with the hub's id,
// which names the channel its wake-up is published on.
func (h *hub) waiterToken() string { return h.id + newToken() }

// SubscribeToken subscribes a queued waiter: it is woken only by a release
// message whose payload is its token (its owner token on a single
// deployment, its waiter id on a quorum), which the scripts publish when the
// waiter has become the queue's head; token must come from waiterToken. It
// returns once the hub's channel is subscribed on enough of the routes that
// hear releases of the lock n that a release cannot be missed (or after
// confirmWait, leaving the rest to the poll).
func (h *hub) SubscribeToken(ctx context.Context, n names, token string) (<-chan struct{}, func(), error) {
	return h.subscribe(ctx, n, token)
}

// SubscribeTokenIfConfirmed subscribes like SubscribeToken, but only for a
// lock this hub's waiters waited for lately (within idleLinger: a contended
// key, whose first attempt would fail) and only if the hub's channel is
// confirmed already on enough of its routes, so that it does no I/O and does
// not wait (ok false otherwise, and nothing was subscribed).
func (h *hub) SubscribeTokenIfConfirmed(ctx context.Context, n names, token string) (<-chan struct{}, func(), bool) {
	h.mu.Lock()
	if h.closed || !h.waitedLately(n.lock, time.Now()) {
		h.mu.Unlock()
		return nil, nil, false
	}
	confirmed := 0
	for _, r := range h.routesLocked(n.lock) {
		if r.isConfirmed() {
			confirmed++
		}
	}
	h.mu.Unlock()
	if confirmed < h.need {
		return nil, nil, false
	}
	ready, stop, err := h.subscribe(ctx, n, token)
	if err != nil {
		return nil, nil, false
	}
	return ready, stop, true
}

func (h *hub) subscribe(ctx context.Context, n names, token string) (<-chan struct{}, func(), error) {
	ready := make(chan struct{}, 1)

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, errClosed
	}
	routes := h.routesLocked(n.lock)
	h.tokens[token] = ready
	h.noteWaited(n.lock, time.Now())
	h.mu.Unlock()

	confirms := make([]<-chan struct{}, len(routes))
	for i, r := range routes {
		confirms[i] = r.ensure(ctx)
	}
	var once sync.Once
	stop := func() { once.Do(func() { h.leave(n.lock, token) }) }
	if err := h.waitConfirmed(ctx, confirms); err != nil {
		stop()
		return nil, nil, err
	}
	return ready, stop, nil
}

// contended reports whether a waiter of the lock n subscribed or left
// lately (see SubscribeTokenIfConfirmed), without subscribing anything.
func (h *hub) contended(n names) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && h.waitedLately(n.lock, time.Now())
}

// waitedLately reports whether a waiter of lock subscribed or left within
// idleLinger of now. h.mu must be held.
func (h *hub) waitedLately(lock string, now time.Time) bool {
	t, ok := h.waited[lock]
	return ok && now.Sub(t) < idleLinger
}

// noteWaited records a waiter of lock subscribing or leaving at now, keeping
// at most maxIdle locks: stale entries go first, then arbitrary ones. h.mu
// must be held.
func (h *hub) noteWaited(lock string, now time.Time) {
	h.waited[lock] = now
	if len(h.waited) <= maxIdle {
		return
	}
	for name, t := range h.waited {
		if now.Sub(t) >= idleLinger {
			delete(h.waited, name)
		}
	}
	for name := range h.waited {
		if len(h.waited) <= maxIdle {
			break
		}
		if name != lock {
			delete(h.waited, name)
		}
	}
}

// routesLocked returns the routes that hear releases of lockKey, starting
// their readers on first use. A source that cannot name its shard is left to
// the backoff poll.
func (h *hub) routesLocked(lockKey string) []*route {
	routes := make([]*route, 0, len(h.sources))
	for _, src := range h.sources {
		var sub subscriber = src
		if r, ok := src.(shardRouter); ok {
			shard, err := r.GetShardClientForKey(lockKey)
			if err != nil {
				continue
			}
			sub = shard
		}
		r := h.routes[sub]
		if r == nil {
			r = newRoute(h, sub)
			h.routes[sub] = r
		}
		routes = append(routes, r)
	}
	return routes
}

// waitConfirmed waits until h.need of confirms are closed, confirmWait has
// passed, or ctx is done; only the last is an error.
func (h *hub) waitConfirmed(ctx context.Context, confirms []<-chan struct{}) error {
	need := min(h.need, len(confirms))
	if confirmedCount(confirms) >= need { // the common case: subscribed already
		return nil
	}
	timer := time.NewTimer(h.confirmWait)
	defer timer.Stop()
	for {
		cases := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		}
		confirmed := 0
		for _, c := range confirms {
			select {
			case <-c:
				confirmed++
			default:
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
			}
		}
		if confirmed >= need {
			return nil
		}
		switch chosen, _, _ := reflect.Select(cases); chosen {
		case 0:
			return ctx.Err()
		case 1:
			return nil
		}
	}
}

func confirmedCount(confirms []<-chan struct{}) int {
	n := 0
	for _, c := range confirms {
		select {
		case <-c:
			n++
		default:
		}
	}
	return n
}

// wake hands a release message to the local waiter whose token it names, if
// any; the same message from several nodes wakes it once if it has not run
// in between.
func (h *hub) wake(payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ready, ok := h.tokens[payload]; ok {
		select {
		case ready <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// leave removes a waiter of lock, which counts as contended for idleLinger
// from now (a waiter queued for long keeps its key contended). The waiter's
// wake-up, if it swallowed one, is passed on by the scripts it runs when it
// leaves the server's queue (leave.lua, quorum_leave.lua).
func (h *hub) leave(lock, token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.tokens, token)
	h.noteWaited(lock, time.Now())
}

// Close ends every subscription and waits for the readers to stop.
func (h *hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.closing)
	routes := make([]*route, 0, len(h.routes))
	for _, r := range h.routes {
		routes = append(routes, r)
	}
	h.mu.Unlock()
	var errs []error
	for _, r := range routes {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}
