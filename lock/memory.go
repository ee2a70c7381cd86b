package lock

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// NewMemory returns a Locker for code-level locking inside one process: keyed,
// FIFO, with fencing tokens and TTL expiry. A release or an expiry hands the key
// straight to the longest waiting Acquire; nothing polls.
//
// Use it where every contender lives in the same process, and as the reference
// backend of the conformance suite.
func NewMemory(defaults ...Option) *Client {
	return New(&memoryBackend{keys: make(map[string]*memoryKey)}, defaults...)
}

type memoryBackend struct {
	mu        sync.Mutex
	keys      map[string]*memoryKey // only keys that are held
	lastToken uint64                // one counter for all keys: increasing per key too
}

type memoryKey struct {
	holder  *memoryGrant
	waiters list.List // of *memoryWaiter, oldest first
}

type memoryWaiter struct {
	ttl     time.Duration
	granted chan *memoryGrant // buffered: the hand-off never blocks
}

type memoryGrant struct {
	b       *memoryBackend
	key     string
	token   uint64
	expires time.Time   // guarded by b.mu
	timer   *time.Timer // fires the expiry
}

var (
	_ Backend = (*memoryBackend)(nil)
	_ Waiter  = (*memoryBackend)(nil)
	_ Expirer = (*memoryGrant)(nil)
)

func (b *memoryBackend) Properties() Properties {
	return Properties{
		Name:         "memory",
		Fencing:      true,
		FIFO:         true,
		Linearizable: true,
		LeaseTTL:     true,
		MinTTL:       time.Millisecond,
	}
}

func (b *memoryBackend) TryGrant(ctx context.Context, key string, ttl time.Duration) (Grant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.keys[key]
	if k != nil && k.holder != nil {
		return nil, ErrNotAcquired
	}
	return b.grantLocked(key, ttl), nil
}

func (b *memoryBackend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (Grant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	k := b.keys[key]
	if k == nil || k.holder == nil {
		g := b.grantLocked(key, ttl)
		b.mu.Unlock()
		return g, nil
	}
	w := &memoryWaiter{ttl: ttl, granted: make(chan *memoryGrant, 1)}
	elem := k.waiters.PushBack(w)
	b.mu.Unlock()

	select {
	case g := <-w.granted:
		return g, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case g := <-w.granted:
		// Handed over while ctx ended: pass it on to the next waiter.
		b.endLocked(g)
	default:
		k.waiters.Remove(elem)
	}
	return nil, ctx.Err()
}

// grantLocked makes key's holder a new grant. b.mu is held.
func (b *memoryBackend) grantLocked(key string, ttl time.Duration) *memoryGrant {
	k := b.keys[key]
	if k == nil {
		k = &memoryKey{}
		b.keys[key] = k
	}
	b.lastToken++
	g := &memoryGrant{b: b, key: key, token: b.lastToken, expires: time.Now().Add(ttl)}
	g.timer = time.AfterFunc(ttl, g.expire)
	k.holder = g
	return g
}

// endLocked ends g and hands its key to the oldest waiter. b.mu is held.
func (b *memoryBackend) endLocked(g *memoryGrant) {
	g.timer.Stop()
	k := b.keys[g.key]
	k.holder = nil
	if front := k.waiters.Front(); front != nil {
		w := k.waiters.Remove(front).(*memoryWaiter)
		w.granted <- b.grantLocked(g.key, w.ttl)
		return
	}
	delete(b.keys, g.key)
}

// heldLocked reports whether g is still its key's live grant, ending it if its
// time has run out. b.mu is held.
func (g *memoryGrant) heldLocked() bool {
	k := g.b.keys[g.key]
	if k == nil || k.holder != g {
		return false
	}
	if !time.Now().Before(g.expires) {
		g.b.endLocked(g)
		return false
	}
	return true
}

func (g *memoryGrant) expire() {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	g.heldLocked()
}

func (g *memoryGrant) Token() uint64 { return g.token }

func (g *memoryGrant) Expiry() time.Time {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	return g.expires
}

func (g *memoryGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	if !g.heldLocked() {
		return fmt.Errorf("%w: token %d no longer holds %q", ErrNotHeld, g.token, g.key)
	}
	g.expires = time.Now().Add(ttl)
	g.timer.Reset(ttl)
	return nil
}

func (g *memoryGrant) Release(ctx context.Context) error {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	if !g.heldLocked() {
		return fmt.Errorf("%w: token %d no longer holds %q", ErrNotHeld, g.token, g.key)
	}
	g.b.endLocked(g)
	return nil
}
