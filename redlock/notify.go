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

// hub is a Locker's one shared subscription to release messages. It keeps one
// go-redis PubSub per connection route (one for a single server, one per node
// of a quorum, one per shard of a Ring). A release message names the token
// (single deployment) or waiter id (quorum) of the head of the server's
// queue, and the hub wakes that waiter if it is local.
type hub struct {
	sources     []Client
	need        int           // confirmed routes to wait for before a waiter may rely on messages
	confirmWait time.Duration // how long to wait for them; past it, the backoff poll covers

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	routes  map[subscriber]*route
	tokens  map[string]chan struct{} // per owner token or waiter id: waiters
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

func newHub(sources []Client, need int) *hub {
	return &hub{
		sources:     sources,
		need:        need,
		confirmWait: time.Second,
		closing:     make(chan struct{}),
		routes:      make(map[subscriber]*route),
		tokens:      make(map[string]chan struct{}),
	}
}

// SubscribeToken subscribes a queued waiter: it is woken only by a release
// message whose payload is its token (its owner token on a single
// deployment, its waiter id on a quorum), which the scripts publish when the
// waiter has become the queue's head. It returns once the channel of key is
// subscribed on enough routes that a release cannot be missed (or after
// confirmWait, leaving the rest to the poll).
func (h *hub) SubscribeToken(ctx context.Context, key, token string) (<-chan struct{}, func(), error) {
	return h.subscribe(ctx, namesOf(key), token)
}

// SubscribeTokenIfConfirmed subscribes like SubscribeToken, but only if the
// channel of key is confirmed already on enough routes, so that it does no
// I/O and does not wait (ok false otherwise, and nothing was subscribed).
func (h *hub) SubscribeTokenIfConfirmed(ctx context.Context, key, token string) (<-chan struct{}, func(), bool) {
	n := namesOf(key)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, false
	}
	confirmed := 0
	for _, r := range h.routesLocked(n.lock) {
		if r.isConfirmed(n.channel) {
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
	h.mu.Unlock()

	confirms := make([]<-chan struct{}, len(routes))
	for i, r := range routes {
		confirms[i] = r.ensure(ctx, n.channel)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.leave(token)
			for _, r := range routes {
				r.release(n.channel)
			}
		})
	}
	if err := h.waitConfirmed(ctx, confirms); err != nil {
		stop()
		return nil, nil, err
	}
	return ready, stop, nil
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

// leave removes a waiter; its wake-up, if it swallowed one, is passed on by
// the scripts it runs when it leaves the server's queue (leave.lua,
// quorum_leave.lua).
func (h *hub) leave(token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.tokens, token)
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
