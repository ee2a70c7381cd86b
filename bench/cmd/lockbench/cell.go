package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cellConfig is one cell of the comparison: a contender spec at N.
type cellConfig struct {
	spec     spec
	n        int
	duration time.Duration
	hold     time.Duration // how long a holder keeps the lock
	key      string
	grace    time.Duration // how long after the end a cell may take to wind down
	warmup   time.Duration // an unmeasured run before the measured one
}

// sample is what one contender recorded.
type sample struct {
	acquire []time.Duration
	release []time.Duration
	handoff []time.Duration
	grants  int
	errs    int
	err     error // the first
}

// drainTime bounds how long the waiters of a warm-up run may take to get
// their last turn after its end (an unfair peer's waiters back off for up to
// half a second between tries).
const drainTime = 5 * time.Second

// endSlack: an Acquire that fails this close to the end of a cell failed
// because the cell ended.
const endSlack = 10 * time.Millisecond

// floorPollMax bounds the jittered pause of the floors between attempts.
var floorPollMax = time.Millisecond

// floorPoll sleeps a uniformly random time in [0, floorPollMax].
func floorPoll(ctx context.Context) error {
	t := time.NewTimer(rand.N(floorPollMax + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runCell opens cfg.n contenders, warms each up with one grant and then all
// of them with a run of cfg.warmup, then lets them take the key in turn for
// cfg.duration.
func runCell(ctx context.Context, e *env, cfg cellConfig) (cellResult, error) {
	ms, err := openAll(ctx, e, cfg)
	if err != nil {
		return cellResult{}, err
	}
	stuck := false // run closed the contenders already
	defer func() {
		if !stuck {
			closeAll(ms)
		}
	}()

	// Warm-up: connections, scripts, sessions, parent nodes.
	for i, m := range ms {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := m.Lock(wctx)
		if err == nil {
			err = m.Unlock(wctx)
		}
		cancel()
		if err != nil {
			return cellResult{}, fmt.Errorf("warm-up of contender %d: %w", i, err)
		}
	}

	// Warm-up run: the same contention, unmeasured, so that the measured
	// run starts in the steady state of this workload (pools, JIT, and the
	// VM's handling of idle vCPUs, which changes round trips two-fold).
	c := &contest{cfg: cfg, lastHolder: -1}
	if cfg.warmup > 0 {
		if _, err := c.run(ctx, ms, cfg.warmup, false); err != nil {
			stuck = true
			return cellResult{}, err
		}
	}
	cpu0 := cpuTime()
	samples, err := c.run(ctx, ms, cfg.duration, true)
	if err != nil {
		stuck = true
		return cellResult{}, err
	}
	cpu := cpuTime() - cpu0
	return summarize(cfg, samples, c.overlaps.Load(), c.tokenErrs.Load(), cpu), nil
}

// contest is the shared record of one cell's runs: who is inside, who held
// the key last and when it was released, and the last fencing token.
type contest struct {
	cfg       cellConfig
	inside    atomic.Int32
	overlaps  atomic.Int64
	tokenErrs atomic.Int64

	mu         sync.Mutex // guards the grant record below
	lastHolder int
	releasedAt time.Time
	lastToken  uint64
}

// run lets ms take the key in turn for d and returns what each recorded. A
// contender stuck after the end is an error (the caller closes them all).
// With cut, waits still going at the end are cancelled (the contenders are
// closed afterwards); without, every contender stops asking at the end and
// the waiters already queued get their turn, for up to drainTime (a wait
// cancelled mid-query closes a pgx connection, which the next run would
// then lack).
func (c *contest) run(ctx context.Context, ms []mutex, d time.Duration, cut bool) ([]sample, error) {
	cfg := c.cfg
	samples := make([]sample, len(ms))
	start := time.Now()
	end := start.Add(d)
	var (
		acqCtx        context.Context
		cancelAcquire context.CancelFunc
	)
	if cut {
		acqCtx, cancelAcquire = context.WithDeadline(ctx, end)
	} else {
		acqCtx, cancelAcquire = context.WithDeadline(ctx, end.Add(drainTime))
	}
	defer cancelAcquire()

	var wg sync.WaitGroup
	for id, m := range ms {
		s := &samples[id]
		wg.Go(func() {
			for time.Now().Before(end) {
				t0 := time.Now()
				tok, err := m.Lock(acqCtx)
				t1 := time.Now()
				if err != nil {
					if acqCtx.Err() != nil || cut && time.Until(end) < endSlack {
						// The run is over (a client may time out a hair
						// before the deadline: gRPC does).
						<-acqCtx.Done()
						return
					}
					s.errs++
					if s.err == nil {
						s.err = err
					}
					time.Sleep(time.Millisecond)
					continue
				}
				if c.inside.Add(1) != 1 {
					c.overlaps.Add(1)
				}
				c.mu.Lock()
				if c.lastHolder >= 0 && c.lastHolder != id && t1.Before(end) {
					s.handoff = append(s.handoff, t1.Sub(c.releasedAt))
				}
				if cfg.spec.fencing {
					if tok <= c.lastToken {
						c.tokenErrs.Add(1)
					}
					c.lastToken = tok
				}
				c.mu.Unlock()
				if t1.Before(end) {
					s.grants++
					s.acquire = append(s.acquire, t1.Sub(t0))
				}
				if cfg.hold > 0 {
					time.Sleep(cfg.hold)
				}
				c.inside.Add(-1)
				c.mu.Lock()
				c.lastHolder, c.releasedAt = id, time.Now()
				c.mu.Unlock()
				uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				r0 := time.Now()
				err = m.Unlock(uctx)
				if t1.Before(end) {
					s.release = append(s.release, time.Since(r0))
				}
				cancel()
				if err != nil {
					s.errs++
					if s.err == nil {
						s.err = err
					}
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return samples, nil
	case <-time.After(d + cfg.grace):
		// A contender without a context (zk.Lock) is stuck: closing its
		// connection makes it return.
		closeAll(ms)
		<-done
		return nil, fmt.Errorf("contenders still running %v after the end: closed them", cfg.grace)
	}
}

func openAll(ctx context.Context, e *env, cfg cellConfig) ([]mutex, error) {
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ms := make([]mutex, cfg.n)
	errs := make([]error, cfg.n)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Go(func() { ms[i], errs[i] = cfg.spec.open(octx, e, cfg.key) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(ms)
		return nil, fmt.Errorf("open %s: %w", cfg.spec.name, err)
	}
	return ms, nil
}

func closeAll(ms []mutex) {
	var wg sync.WaitGroup
	for _, m := range ms {
		if m != nil {
			wg.Go(func() { _ = m.Close() })
		}
	}
	wg.Wait()
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
