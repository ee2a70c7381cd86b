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

// single is the Backend over one Redis deployment. It queues its waiters on
// the server (acquire.lua), so it is a lock.Waiter and grants in FIFO order.
type single struct {
	client  Client
	hub     *hub
	maxPoll time.Duration // longest wait between a queued waiter's attempts
}

var (
	_ lock.Backend      = (*single)(nil)
	_ lock.Waiter       = (*single)(nil)
	_ lock.KeyValidator = (*single)(nil)
	_ lock.Expirer      = (*grant)(nil)
)

// Properties implements lock.Backend.
func (s *single) Properties() lock.Properties {
	return lock.Properties{
		Name:    "redis",
		Fencing: true,
		// Waiters are granted in the order they queued, as long as each
		// renews its place within its deadline (WithQueuePoll); a key freed
		// by a crash may go to a newcomer first (see the package doc).
		FIFO:         true,
		Linearizable: true,
		// Replication is asynchronous: a primary that fails over before its
		// replica got the SET hands the lock out again.
		SurvivesFailover: false,
		LeaseTTL:         true,
		MinTTL:           10 * time.Millisecond,
		MaxKeyLen:        MaxKeyLen,
	}
}

// ValidateKey implements lock.KeyValidator.
func (s *single) ValidateKey(key string) error { return validateKey(key) }

// waiterTTL is how long a queued waiter keeps its place without an attempt.
func (s *single) waiterTTL() time.Duration { return 3 * s.maxPoll }

// TryGrant implements lock.Backend: one SET NX PX and INCR (fastAttempt). A
// key queued for is never free, so it cannot barge in.
func (s *single) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	return s.fastAttempt(ctx, namesOf(key), newToken(), ttl)
}

// WaitGrant implements lock.Waiter. The first attempt is TryGrant's, which
// costs one round trip on a free key. When it fails, the caller subscribes
// to releases, then queues (acquire.lua) — in that order, so that a release
// after it queued cannot go unheard; on a key its Locker waited for lately,
// with the Locker's channel subscribed still, the caller skips the first
// attempt — and waits for the release that names its token, polling, which
// renews its place, as a safety net. A cancelled
// wait leaves the queue (leave.lua).
func (s *single) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	n := namesOf(key)
	// On a key this Locker waited for lately, with its channel subscribed
	// still, the caller queues at once (acquire.lua grants a free key as
	// well), without the first attempt's round trip.
	var (
		token      string
		ready      <-chan struct{}
		stop       func()
		subscribed bool
	)
	if s.hub.contended(n) {
		token = s.hub.waiterToken()
		ready, stop, subscribed = s.hub.SubscribeTokenIfConfirmed(ctx, n, token)
	}
	if !subscribed {
		// The first attempt never queues: a plain token will do, and a
		// waiter's token is made only for a caller that queues.
		g, err := s.fastAttempt(ctx, n, newToken(), ttl)
		if !errors.Is(err, lock.ErrNotAcquired) {
			return g, err
		}
		if token == "" {
			token = s.hub.waiterToken()
		}
		if ready, stop, err = s.hub.SubscribeToken(ctx, n, token); err != nil {
			return nil, err // not queued yet: nothing to leave
		}
	}
	defer stop()
	wait := s.waiterTTL()
	p := newPoller(s.maxPoll)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		g, err := s.attempt(ctx, n, token, ttl, wait)
		if !errors.Is(err, lock.ErrNotAcquired) {
			if err != nil {
				s.leave(ctx, n, token)
			}
			return g, err
		}
		timer.Reset(p.next())
		select {
		case <-ctx.Done():
			s.leave(ctx, n, token)
			return nil, ctx.Err()
		case <-ready:
		case <-timer.C:
		}
	}
}

// fastAttempt runs take.lua: SET {key} token NX PX ttl and, if it took the
// key, INCR {key}:fence, in one round trip. (A pipeline of the two plain
// commands costs the server less, but go-redis runs pipelines on a pool of
// their own, and alternating two connections per acquire+release measured
// slower than one script on a quiet machine.)
func (s *single) fastAttempt(ctx context.Context, n names, token string, ttl time.Duration) (lock.Grant, error) {
	sent := time.Now()
	fence, err := takeScript.Run(ctx, s.client, []string{n.lock, n.fence}, token, milliseconds(ttl)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, lock.ErrNotAcquired
	case err != nil:
		// The script may have taken the key with its answer lost: give it
		// back.
		s.leave(ctx, n, token)
		return nil, redisErr("acquire", err)
	}
	return &grant{client: s.client, names: n, token: token, fence: uint64(fence), expiry: sent.Add(ttl)}, nil
}

// attempt runs acquire.lua once: a queued waiter's attempt, which also
// queues the caller (or renews its place) for wait.
func (s *single) attempt(ctx context.Context, n names, token string, ttl, wait time.Duration) (lock.Grant, error) {
	sent := time.Now()
	fence, err := acquireScript.Run(ctx, s.client, []string{n.lock, n.fence, n.queue, n.deadlines},
		token, milliseconds(ttl), milliseconds(wait), wakePrefix).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, lock.ErrNotAcquired
	case err != nil:
		return nil, redisErr("acquire", err)
	}
	return &grant{client: s.client, names: n, token: token, fence: uint64(fence), expiry: sent.Add(ttl)}, nil
}

// leaveTimeout bounds leave.lua, which runs even when the caller's context is
// done.
const leaveTimeout = time.Second

// leave takes token out of the queue, and deletes a grant it may have won in
// an attempt whose answer was lost (the caller's context ended mid-flight).
// Should it fail, the queue entry dies at its deadline and the grant at its
// TTL.
func (s *single) leave(ctx context.Context, n names, token string) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	_ = leaveScript.Run(lctx, s.client, []string{n.lock, n.queue, n.deadlines}, token, wakePrefix).Err()
}

// grant is one grant on one Redis deployment.
type grant struct {
	client Client
	names  names
	token  string
	fence  uint64

	mu     sync.Mutex
	expiry time.Time // send time of the last grant or refresh + TTL
}

// Token implements lock.Grant.
func (g *grant) Token() uint64 { return g.fence }

// Expiry implements lock.Expirer: a grant handed over after a wait counts
// from the attempt that won it, not from the start of the wait.
func (g *grant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expiry
}

// Refresh implements lock.Grant.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	sent := time.Now()
	ok, err := refreshScript.Run(ctx, g.client, []string{g.names.lock}, g.token, milliseconds(ttl)).Int64()
	switch {
	case err != nil:
		return redisErr("refresh", err)
	case ok == 0:
		return fmt.Errorf("%w: the key expired or belongs to another owner", lock.ErrNotHeld)
	}
	g.mu.Lock()
	g.expiry = sent.Add(ttl)
	g.mu.Unlock()
	return nil
}

// Release implements lock.Grant: the key is deleted and the head of the
// queue, alone, is woken.
func (g *grant) Release(ctx context.Context) error {
	n := g.names
	ok, err := releaseScript.Run(ctx, g.client, []string{n.lock, n.queue, n.deadlines}, g.token, wakePrefix).Int64()
	switch {
	case err != nil:
		return redisErr("release", err)
	case ok == 0:
		return fmt.Errorf("%w: the key expired or belongs to another owner", lock.ErrNotHeld)
	}
	return nil
}
