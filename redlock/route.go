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
	// waiter (see hub.SubscribeTokenIfConfirmed).
	idleLinger = 30 * time.Second
	// maxIdle bounds the keys a hub remembers as contended.
	maxIdle = 256
	// subscribeTimeout bounds a SUBSCRIBE write.
	subscribeTimeout = time.Second
)

// route is one PubSub connection of a hub, on which the hub's own channel is
// subscribed at its first waiter and stays subscribed until the hub closes
// (one channel per Locker, whatever the keys: nothing to unsubscribe).
type route struct {
	hub        *hub
	ps         *redis.PubSub
	readerDone chan struct{}

	mu         sync.Mutex
	subscribed bool          // SUBSCRIBE sent
	confirmed  chan struct{} // closed when the server confirmed the subscription
	done       bool          // confirmed is closed
}

// newRoute opens an empty PubSub (no I/O until the first waiter) and starts
// its reader.
func newRoute(h *hub, sub subscriber) *route {
	r := &route{
		hub:        h,
		ps:         sub.Subscribe(context.Background()),
		readerDone: make(chan struct{}),
		confirmed:  make(chan struct{}),
	}
	go r.read()
	return r
}

// ensure subscribes the hub's channel, unless it was already, and returns a
// channel that is closed once the server confirmed it.
func (r *route) ensure(ctx context.Context) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.subscribed {
		r.subscribed = true
		// go-redis remembers the channel even when the write fails and
		// subscribes it again on its next connection.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), subscribeTimeout)
		_ = r.ps.Subscribe(wctx, r.hub.channel)
		cancel()
	}
	return r.confirmed
}

// isConfirmed reports whether the server confirmed the hub's subscription.
func (r *route) isConfirmed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// confirm records the server's confirmation of a SUBSCRIBE of channel.
func (r *route) confirm(channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if channel == r.hub.channel && !r.done {
		r.done = true
		close(r.confirmed)
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
