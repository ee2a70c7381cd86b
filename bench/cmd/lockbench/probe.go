package main

import (
	"context"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// probePings is how many sequential PINGs one probe sends.
const probePings = 300

// prober measures the loopback round trip (Redis PING, p50) before each
// cell. On the VMs this was developed on, it switches between about 10 and
// 20 µs within a run (the host's handling of idle vCPUs), and every N = 1
// figure moves with it: racefree's ratios to the floors and peers differ by
// mode, so each cell records the mode it ran in.
type prober struct{ rdb *redis.Client }

// newProber returns a prober on the first Redis node, or nil without one.
func newProber(e *env) *prober {
	if len(e.redisAddrs) == 0 {
		return nil
	}
	return &prober{rdb: redis.NewClient(&redis.Options{Addr: e.redisAddrs[0], PoolSize: 1})}
}

// pingP50 is the median PING round trip in µs, or 0 when p is nil or the
// server does not answer.
func (p *prober) pingP50(ctx context.Context) float64 {
	if p == nil {
		return 0
	}
	d := make([]time.Duration, 0, probePings)
	for range probePings {
		start := time.Now()
		if err := p.rdb.Ping(ctx).Err(); err != nil {
			return 0
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Microsecond)
}

func (p *prober) Close() error {
	if p == nil {
		return nil
	}
	return p.rdb.Close()
}
