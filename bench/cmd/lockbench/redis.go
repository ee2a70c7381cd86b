package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/redlock"
)

// redisTTL is the lease TTL every Redis contender asks for.
const redisTTL = 30 * time.Second

func redisSpecs() []spec {
	return []spec{
		{name: "racefree/redis", backend: "redis", kind: kindRacefree, fencing: true,
			note: "redlock.New: acquire.lua (SET NX PX + INCR fence), pub/sub wake-one", open: openRacefreeRedis},
		{name: "redsync", backend: "redis", kind: kindPeer,
			note: "redsync/v4 1 pool, default retry delay 50-250 ms, tries unbounded", open: openRedsync(1)},
		{name: "redislock/exp", backend: "redis", kind: kindPeer,
			note: "bsm/redislock, ExponentialBackoff(16ms, 512ms) (its documented minimum; the default is no retry)", open: openRedislock(func() redislock.RetryStrategy {
				return redislock.ExponentialBackoff(16*time.Millisecond, 512*time.Millisecond)
			})},
		{name: "redislock/1ms", backend: "redis", kind: kindPeer,
			note: "bsm/redislock, LinearBackoff(1ms)", open: openRedislock(func() redislock.RetryStrategy {
				return redislock.LinearBackoff(time.Millisecond)
			})},
		{name: "floor/redis", backend: "redis", kind: kindFloor,
			note: "SET NX PX + Lua token-checked DEL, poll every 0-1 ms", open: openRedisFloor(false)},
		{name: fencedFloor, backend: "redis", kind: kindFloor, fencing: true,
			note: "Lua SET NX PX + INCR fence + Lua token-checked DEL, poll every 0-1 ms", open: openRedisFloor(true)},
		{name: "racefree/redlock5", backend: "redis×5", kind: kindRacefree, fencing: true,
			note: "redlock.NewQuorum over 5 nodes", open: openRacefreeQuorum},
		{name: "redsync5", backend: "redis×5", kind: kindPeer,
			note: "redsync/v4 over 5 pools, default retry delay, tries unbounded", open: openRedsync(5)},
	}
}

func newRedis(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4, MinIdleConns: 1})
}

func openRacefreeRedis(_ context.Context, e *env, key string) (mutex, error) {
	rdb := newRedis(e.redisAddrs[0])
	l, err := redlock.New(rdb)
	if err != nil {
		return nil, errors.Join(err, rdb.Close())
	}
	return &leaseMutex{locker: l, key: key, closer: func() error { return errors.Join(l.Close(), rdb.Close()) }}, nil
}

func openRacefreeQuorum(_ context.Context, e *env, key string) (mutex, error) {
	clients := make([]redlock.Client, 5)
	rdbs := make([]*redis.Client, 5)
	for i := range clients {
		rdbs[i] = newRedis(e.redisAddrs[i])
		clients[i] = rdbs[i]
	}
	closeAll := func() error {
		var errs []error
		for _, c := range rdbs {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	l, err := redlock.NewQuorum(clients)
	if err != nil {
		return nil, errors.Join(err, closeAll())
	}
	return &leaseMutex{locker: l, key: key, closer: func() error { return errors.Join(l.Close(), closeAll()) }}, nil
}

// redsyncMutex is a contender on github.com/go-redsync/redsync/v4.
type redsyncMutex struct {
	m    *redsync.Mutex
	rdbs []*redis.Client
}

func openRedsync(nodes int) func(context.Context, *env, string) (mutex, error) {
	return func(_ context.Context, e *env, key string) (mutex, error) {
		var pools []redsyncredis.Pool
		m := &redsyncMutex{}
		for i := range nodes {
			rdb := newRedis(e.redisAddrs[i])
			m.rdbs = append(m.rdbs, rdb)
			pools = append(pools, redsyncgoredis.NewPool(rdb))
		}
		m.m = redsync.New(pools...).NewMutex(key, redsync.WithExpiry(redisTTL), redsync.WithTries(math.MaxInt32))
		return m, nil
	}
}

func (m *redsyncMutex) Lock(ctx context.Context) (uint64, error) { return 0, m.m.LockContext(ctx) }

func (m *redsyncMutex) Unlock(ctx context.Context) error {
	ok, err := m.m.UnlockContext(ctx)
	if err == nil && !ok {
		err = errors.New("redsync: unlock returned false")
	}
	return err
}

func (m *redsyncMutex) Close() error {
	var errs []error
	for _, c := range m.rdbs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// redislockMutex is a contender on github.com/bsm/redislock.
type redislockMutex struct {
	c     *redislock.Client
	rdb   *redis.Client
	key   string
	retry func() redislock.RetryStrategy
	held  *redislock.Lock
}

func openRedislock(retry func() redislock.RetryStrategy) func(context.Context, *env, string) (mutex, error) {
	return func(_ context.Context, e *env, key string) (mutex, error) {
		rdb := newRedis(e.redisAddrs[0])
		return &redislockMutex{c: redislock.New(rdb), rdb: rdb, key: key, retry: retry}, nil
	}
}

func (m *redislockMutex) Lock(ctx context.Context) (uint64, error) {
	// A new strategy per Obtain: the exponential one counts its attempts.
	l, err := m.c.Obtain(ctx, m.key, redisTTL, &redislock.Options{RetryStrategy: m.retry()})
	if err != nil {
		return 0, err
	}
	m.held = l
	return 0, nil
}

func (m *redislockMutex) Unlock(ctx context.Context) error {
	err := m.held.Release(ctx)
	m.held = nil
	return err
}

func (m *redislockMutex) Close() error { return m.rdb.Close() }

// floorRelease deletes the key only if it still holds the caller's token.
var floorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// fencedFloor names the floor that also issues fencing tokens, as the issue
// asks racefree/redis to: the least any fenced Redis lock must send.
const fencedFloor = "floor/redis-fenced"

// floorFencedTake takes the key and, if it did, issues a fencing token from
// a per-key counter, atomically: nil when the key is taken.
var floorFencedTake = redis.NewScript(`if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end return false`)

// redisFloor is the raw protocol: SET NX PX (with fenced, a Lua SET NX PX +
// INCR), a Lua token-checked DEL, and polling while the key is taken.
type redisFloor struct {
	rdb    *redis.Client
	key    string
	fence  string // the counter's key, when fenced
	fenced bool
	token  string
}

func openRedisFloor(fenced bool) func(ctx context.Context, e *env, key string) (mutex, error) {
	return func(ctx context.Context, e *env, key string) (mutex, error) {
		rdb := newRedis(e.redisAddrs[0])
		err := floorRelease.Load(ctx, rdb).Err()
		if err == nil && fenced {
			err = floorFencedTake.Load(ctx, rdb).Err()
		}
		if err != nil {
			return nil, errors.Join(err, rdb.Close())
		}
		return &redisFloor{rdb: rdb, key: key, fence: key + ":fence", fenced: fenced}, nil
	}
}

func (f *redisFloor) Lock(ctx context.Context) (uint64, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	for {
		token, ok, err := f.take(ctx, tok)
		if err != nil {
			return 0, err
		}
		if ok {
			f.token = tok
			return token, nil
		}
		if err := floorPoll(ctx); err != nil {
			return 0, err
		}
	}
}

// take makes one attempt; token is the fencing token when fenced.
func (f *redisFloor) take(ctx context.Context, tok string) (token uint64, ok bool, err error) {
	if !f.fenced {
		ok, err = f.rdb.SetNX(ctx, f.key, tok, redisTTL).Result()
		return 0, ok, err
	}
	n, err := floorFencedTake.EvalSha(ctx, f.rdb, []string{f.key, f.fence}, tok, redisTTL.Milliseconds()).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return uint64(n), true, nil
}

func (f *redisFloor) Unlock(ctx context.Context) error {
	n, err := floorRelease.EvalSha(ctx, f.rdb, []string{f.key}, f.token).Int()
	if err == nil && n != 1 {
		err = errors.New("floor/redis: key no longer held")
	}
	return err
}

func (f *redisFloor) Close() error { return f.rdb.Close() }
