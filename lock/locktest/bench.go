package locktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

// Benchmark runs the benchmarks every Locker shares, as sub-benchmarks of b,
// so that backends are measured the same way:
//
//   - Uncontended/Acquire and Uncontended/TryAcquire: one caller takes and
//     releases a free key.
//   - Contention/N=8 and N=32: N contenders, each with its own Locker from
//     newLocker (as separate processes), take turns on one key. It reports
//     handoff-p50-µs and handoff-p99-µs (from a holder calling Release to
//     another contender's Acquire returning), handoffs/grant (the share of
//     grants that went to another contender than the last holder) and
//     busiest/fair (the busiest contender's grants over the fair share).
//
// opts are passed to every Acquire. Overlapping holders fail the benchmark.
func Benchmark(b *testing.B, newLocker func(b *testing.B) lock.Locker, opts ...lock.Option) {
	for _, mode := range []string{"Acquire", "TryAcquire"} {
		b.Run("Uncontended/"+mode, func(b *testing.B) {
			benchUncontended(b, newLocker(b), mode == "TryAcquire", opts)
		})
	}
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("Contention/N=%d", n), func(b *testing.B) {
			lockers := make([]lock.Locker, n)
			for i := range lockers {
				lockers[i] = newLocker(b)
			}
			benchContention(b, lockers, opts)
		})
	}
}

func benchKey(b *testing.B) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		b.Fatal(err)
	}
	return "bench-" + hex.EncodeToString(r[:])
}

func benchUncontended(b *testing.B, l lock.Locker, try bool, opts []lock.Option) {
	ctx := context.Background()
	k := benchKey(b)
	acquire := l.Acquire
	if try {
		acquire = l.TryAcquire
	}
	for b.Loop() {
		lease, err := acquire(ctx, k, opts...)
		if err != nil {
			b.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func benchContention(b *testing.B, lockers []lock.Locker, opts []lock.Option) {
	ctx := context.Background()
	k := benchKey(b)
	var rec handoffRecorder
	rec.grants = make([]int, len(lockers))
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for id, l := range lockers {
		wg.Go(func() {
			for remaining.Add(-1) >= 0 {
				lease, err := l.Acquire(ctx, k, opts...)
				if err != nil {
					b.Error(err)
					return
				}
				rec.granted(id)
				rec.releasing()
				if err := lease.Release(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	rec.report(b)
}

// handoffRecorder measures hand-offs between contenders and checks that no
// two of them hold the key at once.
type handoffRecorder struct {
	mu       sync.Mutex
	holding  bool
	holder   int
	released time.Time
	samples  []time.Duration
	grants   []int
	overlaps int
}

func (h *handoffRecorder) granted(id int) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.overlaps++
	}
	h.holding = true
	h.grants[id]++
	if !h.released.IsZero() && id != h.holder {
		h.samples = append(h.samples, now.Sub(h.released))
	}
	h.holder = id
}

func (h *handoffRecorder) releasing() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	h.released = time.Now()
}

func (h *handoffRecorder) report(b *testing.B) {
	if h.overlaps > 0 {
		b.Fatalf("%d grants while another contender held the key", h.overlaps)
	}
	total := 0
	for _, g := range h.grants {
		total += g
	}
	if total == 0 {
		return
	}
	fair := float64(total) / float64(len(h.grants))
	b.ReportMetric(float64(slices.Max(h.grants))/fair, "busiest/fair")
	b.ReportMetric(float64(len(h.samples))/float64(total), "handoffs/grant")
	if len(h.samples) == 0 {
		return
	}
	slices.Sort(h.samples)
	at := func(q float64) float64 {
		return float64(h.samples[int(q*float64(len(h.samples)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "handoff-p50-µs")
	b.ReportMetric(at(0.99), "handoff-p99-µs")
}
