package redlock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

// floorRelease is the bare token-checked delete the floor benchmark pairs with SET NX PX.
var floorRelease = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// BenchmarkFloor is the least a Redis lock can cost: SET NX PX and a Lua
// token-checked delete, two round trips, no fencing, no lease.
func BenchmarkFloor(b *testing.B) {
	benchmarkFloor(b, func(ctx context.Context, rdb *redis.Client, k, token string) error {
		ok, err := rdb.SetNX(ctx, k, token, 30*time.Second).Result()
		if err == nil && !ok {
			err = errors.New("SET NX found the key taken")
		}
		return err
	})
}

// fencedTake is SET NX PX and, if it took the key, INCR of a fencing counter,
// in one script: what a Redis lock with fencing tokens sends first.
var fencedTake = redis.NewScript(`if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end return false`)

// BenchmarkFencedFloor is the least a Redis lock with fencing tokens costs:
// BenchmarkFloor with its SET NX PX and an INCR in one script.
func BenchmarkFencedFloor(b *testing.B) {
	benchmarkFloor(b, func(ctx context.Context, rdb *redis.Client, k, token string) error {
		return fencedTake.Run(ctx, rdb, []string{k, k + ":fence"}, token, 30000).Err()
	})
}

// benchmarkFloor takes a key with take and deletes it with floorRelease, a
// new random token each time.
func benchmarkFloor(b *testing.B, take func(ctx context.Context, rdb *redis.Client, k, token string) error) {
	rdb := testenv.Redis(b)
	ctx := context.Background()
	k := key(b)
	var tok [16]byte
	for b.Loop() {
		_, _ = rand.Read(tok[:])
		v := hex.EncodeToString(tok[:])
		if err := take(ctx, rdb, k, v); err != nil {
			b.Fatalf("take: %v", err)
		}
		if err := floorRelease.Run(ctx, rdb, []string{k}, v).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocker runs locktest's shared benchmarks on one node and on a
// quorum of five; compare Uncontended with BenchmarkFloor and
// BenchmarkFencedFloor.
func BenchmarkLocker(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		locktest.Benchmark(b, func(b *testing.B) lock.Locker { return newSingle(b, testenv.Redis(b)) })
	})
	b.Run("quorum5", func(b *testing.B) {
		locktest.Benchmark(b, func(b *testing.B) lock.Locker { return newQuorum(b, testenv.RedisNodes(b, 5)) })
	})
}
