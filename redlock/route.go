package redlock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// idleLinger is how long a key counts as contended after its last
	// waiter (see hub.SubscribeTokenIfConfirmed), and how long an unused
	// channel of a route would stay subscribed. A route has one channel, its
	// hub's; stamped idle at every release, it stays subscribed until the
	// hub closes.
	idleLinger = 30 * time.Second
	// maxIdle bounds the keys a hub remembers as contended.
	maxIdle = 256
	// subscribeTimeout bounds a SUBSCRIBE or UNSUBSCRIBE write.
	subscribeTimeout = time.Second
)

// route is one PubSub connection of a hub and the channels subscribed on it.
type route struct {
	hub        *hub
	ps         *redis.PubSub
	readerDone chan struct{}

	mu   sync.Mutex // guards subs; serialises SUBSCRIBE and UNSUBSCRIBE
	subs map[string]*channelSub
	idle int // subs without waiters
}

// channelSub is one subscribed channel.
type channelSub struct {
	refs      int           // waiters using it
	confirmed chan struct{} // closed when the server confirmed the subscription
	done      bool          // confirmed is closed
	idleSince time.Time
}

// newRoute opens an empty PubSub (no I/O until the first channel) and starts
// its reader.
func newRoute(h *hub, sub subscriber) *route {
	r := &route{
		hub:        h,
		ps:         sub.Subscribe(context.Background()),
		readerDone: make(chan struct{}),
		subs:       make(map[string]*channelSub),
	}
	go r.read()
	return r
}

// ensure subscribes channel, or reuses its subscription, and returns a channel
// that is closed once the server confirmed it.
func (r *route) ensure(ctx context.Context, channel string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.subs[channel]
	if s == nil {
		s = &channelSub{confirmed: make(chan struct{})}
		r.subs[channel] = s
		// go-redis remembers the channel even when the write fails and
		// subscribes it again on its next connection.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), subscribeTimeout)
		_ = r.ps.Subscribe(wctx, channel)
		cancel()
	} else if s.refs == 0 {
		r.idle--
	}
	s.refs++
	return s.confirmed
}

// release drops one waiter's use of channel; channels idle for long, or too
// many of them, are unsubscribed.
func (r *route) release(channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.subs[channel]
	if s == nil {
		return
	}
	s.refs--
	if s.refs > 0 {
		return
	}
	now := time.Now()
	s.idleSince = now
	r.idle++
	if r.idle <= maxIdle && !r.oldestIdleBefore(now.Add(-idleLinger)) {
		return
	}
	var drop []string
	for name, s := range r.subs {
		if s.refs == 0 && (r.idle > maxIdle || now.Sub(s.idleSince) > idleLinger) {
			drop = append(drop, name)
			delete(r.subs, name)
			r.idle--
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	_ = r.ps.Unsubscribe(ctx, drop...)
}

func (r *route) oldestIdleBefore(t time.Time) bool {
	for _, s := range r.subs {
		if s.refs == 0 && s.idleSince.Before(t) {
			return true
		}
	}
	return false
}

// isConfirmed reports whether the server confirmed channel's subscription.
func (r *route) isConfirmed(channel string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.subs[channel]
	return s != nil && s.done
}

// confirm records the server's confirmation of a SUBSCRIBE.
func (r *route) confirm(channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.subs[channel]; s != nil && !s.done {
		s.done = true
		close(s.confirmed)
	}
}

// read dispatches what the PubSub receives until the hub closes.
func (r *route) read() {
	defer close(r.readerDone)
	ctx := context.Background()
	for {
		msg, err := r.ps.Receive(ctx)
		if err != nil {
			// go-redis reconnects and resubscribes on the next Receive.
			select {
			case <-r.hub.closing:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				r.confirm(m.Channel)
			}
		case *redis.Message:
			r.hub.wake(m.Payload)
		}
	}
}

// close closes the PubSub and waits for the reader.
func (r *route) close() error {
	err := r.ps.Close()
	<-r.readerDone
	if errors.Is(err, redis.ErrClosed) {
		err = nil
	}
	return err
}
