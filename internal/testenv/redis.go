package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// RedisImage is the image of the Redis containers (when no endpoint is given).
const RedisImage = "redis:7"

// RedisAddrsVar lists the "host:port" of independent Redis servers, comma separated.
const RedisAddrsVar = "RACEFREE_REDIS_ADDRS"

// MaxRedisNodes is how many independent Redis servers a test can ask for.
const MaxRedisNodes = 5

var redisContainers [MaxRedisNodes]shared

func init() {
	for i := range redisContainers {
		redisContainers[i].start = startRedisContainer
	}
}

func startRedisContainer(ctx context.Context) (string, error) {
	c, err := tcredis.Run(ctx, RedisImage)
	if c != nil {
		if terr := track(c.GetContainerID()); terr != nil && err == nil {
			err = terr
		}
	}
	if err != nil {
		return "", err
	}
	return hostPort(ctx, c, "6379/tcp")
}

// RedisAddrs returns the "host:port" addresses of n independent Redis servers
// (1 <= n <= MaxRedisNodes). It fails the test when fewer exist.
func RedisAddrs(t testing.TB, n int) []string {
	t.Helper()
	if n < 1 || n > MaxRedisNodes {
		t.Fatalf("testenv: RedisAddrs(%d): n must be in [1, %d]", n, MaxRedisNodes)
	}
	if v := os.Getenv(RedisAddrsVar); v != "" {
		addrs := splitList(v)
		if len(addrs) < n {
			t.Fatalf("testenv: %s lists %d Redis servers, the test needs %d", RedisAddrsVar, len(addrs), n)
		}
		return addrs[:n]
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = endpoint(t, "redis", RedisAddrsVar, &redisContainers[i])
	}
	return addrs
}

// Redis returns a new client to the first Redis server, closed when the test ends.
// Keys are shared with other tests: prefix them with Prefix(t).
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	return newRedis(t, RedisAddrs(t, 1)[0])
}

// RedisNodes returns new clients to n independent Redis servers (n <= MaxRedisNodes),
// for Redlock; it fails the test when fewer servers exist.
func RedisNodes(t testing.TB, n int) []*redis.Client {
	t.Helper()
	var cs []*redis.Client
	for _, a := range RedisAddrs(t, n) {
		cs = append(cs, newRedis(t, a))
	}
	return cs
}

// newRedis connects to addr and checks that the server answers.
func newRedis(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(setupContext(t)).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s (%s) does not answer: %v", addr, RedisAddrsVar, err)
	}
	return c
}
