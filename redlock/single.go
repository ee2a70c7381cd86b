package redlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/lock"
)

// single is the Backend over one Redis deployment.
type single struct {
	client Client
	hub    *hub
}

var (
	_ lock.Backend      = (*single)(nil)
	_ lock.Notifier     = (*single)(nil)
	_ lock.KeyValidator = (*single)(nil)
)

// Properties implements lock.Backend.
func (s *single) Properties() lock.Properties {
	return lock.Properties{
		Name:         "redis",
		Fencing:      true,
		FIFO:         false,
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

// Subscribe implements lock.Notifier.
func (s *single) Subscribe(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	return s.hub.Subscribe(ctx, key)
}

// TryGrant implements lock.Backend: one EVALSHA of acquire.lua.
func (s *single) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	n := namesOf(key)
	token := newToken()
	fence, err := acquireScript.Run(ctx, s.client, []string{n.lock, n.fence}, token, milliseconds(ttl)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, lock.ErrNotAcquired
	case err != nil:
		return nil, redisErr("acquire", err)
	}
	return &grant{client: s.client, names: n, token: token, fence: uint64(fence)}, nil
}

// grant is one grant on one Redis deployment.
type grant struct {
	client Client
	names  names
	token  string
	fence  uint64
}

// Token implements lock.Grant.
func (g *grant) Token() uint64 { return g.fence }

// Refresh implements lock.Grant.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	ok, err := refreshScript.Run(ctx, g.client, []string{g.names.lock}, g.token, milliseconds(ttl)).Int64()
	switch {
	case err != nil:
		return redisErr("refresh", err)
	case ok == 0:
		return fmt.Errorf("%w: the key expired or belongs to another owner", lock.ErrNotHeld)
	}
	return nil
}

// Release implements lock.Grant.
func (g *grant) Release(ctx context.Context) error {
	ok, err := releaseScript.Run(ctx, g.client, []string{g.names.lock}, g.token, g.names.channel).Int64()
	switch {
	case err != nil:
		return redisErr("release", err)
	case ok == 0:
		return fmt.Errorf("%w: the key expired or belongs to another owner", lock.ErrNotHeld)
	}
	return nil
}
