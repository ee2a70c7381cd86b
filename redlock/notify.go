package redlock

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// errClosed is returned by Acquire on a Locker after Close.
var errClosed = errors.New("redlock: Locker is closed")

// hub is a Locker's one shared subscription to release messages. It keeps one
// go-redis PubSub per connection route (one for a single server, one per node
// of a quorum, one per shard of a Ring). A single deployment's release names
// the token of the waiter to wake, and the hub wakes that waiter if it is
// local; for a quorum it keeps, per channel, the queue of local waiters, and
// each release message wakes one of them, the longest waiting first.
type hub struct {
	sources     []Client
	need        int           // confirmed routes to wait for before a waiter may rely on messages
	confirmWait time.Duration // how long to wait for them; past it, the backoff poll covers

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	routes  map[subscriber]*route
	queues  map[string]*waitQueue    // per channel: quorum waiters
	tokens  map[string]chan struct{} // per owner token: single-deployment waiters
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
		queues:      make(map[string]*waitQueue),
		tokens:      make(map[string]chan struct{}),
	}
}

// waitQueue holds the local waiters of one channel.
type waitQueue struct {
	waiters []chan struct{} // longest waiting first
	recent  [8]string       // last payloads, so a release heard from several nodes wakes one waiter
	next    int
}

// Subscribe implements lock.Notifier for a quorum: each release message of
// key wakes one local waiter, the longest waiting first. It returns once the
// channel of key is subscribed on enough routes that a release cannot be
// missed (or after confirmWait, leaving the rest to the backoff poll).
func (h *hub) Subscribe(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	return h.subscribe(ctx, namesOf(key), "")
}

// SubscribeToken subscribes a waiter of a single deployment's queue: it is
// woken only by a release message whose payload is its owner token, the
// token release.lua publishes when the waiter has become the queue's head.
func (h *hub) SubscribeToken(ctx context.Context, key, token string) (<-chan struct{}, func(), error) {
	return h.subscribe(ctx, namesOf(key), token)
}

func (h *hub) subscribe(ctx context.Context, n names, token string) (<-chan struct{}, func(), error) {
	ready := make(chan struct{}, 1)

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, errClosed
	}
	routes := h.routesLocked(n.lock)
	if token != "" {
		h.tokens[token] = ready
	} else {
		q := h.queues[n.channel]
		if q == nil {
			q = &waitQueue{}
			h.queues[n.channel] = q
		}
		q.waiters = append(q.waiters, ready)
	}
	h.mu.Unlock()

	confirms := make([]<-chan struct{}, len(routes))
	for i, r := range routes {
		confirms[i] = r.ensure(ctx, n.channel)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.leave(n.channel, ready, token)
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

// wake hands one release message of channel to the local waiter whose token
// it names, or else to one local waiter of the channel.
func (h *hub) wake(channel, payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ready, ok := h.tokens[payload]; ok {
		select {
		case ready <- struct{}{}:
		default: // a wake-up is pending already
		}
		return
	}
	q := h.queues[channel]
	if q == nil || slices.Contains(q.recent[:], payload) {
		return
	}
	q.recent[q.next] = payload
	q.next = (q.next + 1) % len(q.recent)
	q.wakeOne()
}

// wakeOne signals the longest-waiting waiter that has no signal pending, and
// moves it to the back of the queue.
func (q *waitQueue) wakeOne() {
	for i, w := range q.waiters {
		select {
		case w <- struct{}{}:
			q.waiters = append(slices.Delete(q.waiters, i, i+1), w)
			return
		default:
		}
	}
}

// leave removes a waiter. A quorum waiter's signal it did not consume is
// passed on, so that a waiter giving up never swallows the wake-up of a
// release; a queued waiter's wake-up is passed on by leave.lua instead.
func (h *hub) leave(channel string, ready chan struct{}, token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if token != "" {
		delete(h.tokens, token)
		return
	}
	q := h.queues[channel]
	if q == nil {
		return
	}
	if i := slices.Index(q.waiters, ready); i >= 0 {
		q.waiters = slices.Delete(q.waiters, i, i+1)
	}
	select {
	case <-ready:
		q.wakeOne()
	default:
	}
	if len(q.waiters) == 0 {
		delete(h.queues, channel)
	}
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
