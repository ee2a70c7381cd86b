package finesleep_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/internal/finesleep"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSleepWaitsAtLeastTheDuration(t *testing.T) {
	for _, d := range []time.Duration{50 * time.Microsecond, 300 * time.Microsecond, time.Millisecond, 3 * time.Millisecond} {
		for range 20 {
			start := time.Now()
			if err := finesleep.Sleep(context.Background(), d); err != nil {
				t.Fatalf("Sleep(%v): %v", d, err)
			}
			if got := time.Since(start); got < d {
				t.Fatalf("Sleep(%v) returned after %v", d, got)
			}
		}
	}
}

func TestSleepReturnsAtOnceForNothingOrADoneContext(t *testing.T) {
	if err := finesleep.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := finesleep.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a done context: %v, want context.Canceled", err)
	}
}

// A sleep whose context ends first returns the context's error: a long one
// (a time.Timer) at once, a short one (the fine timer, which may also just
// finish first and return nil) by its end. Sleeps after cancelled ones still
// wait their full time. (TestFineSleepEndsWithItsContext checks that the fine
// timer itself ends with its context.)
func TestSleepEndsWithItsContext(t *testing.T) {
	for _, d := range []time.Duration{1900 * time.Microsecond, time.Hour} {
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Microsecond)
			start := time.Now()
			err := finesleep.Sleep(ctx, d)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) && !(d < time.Second && err == nil) {
				t.Fatalf("Sleep(%v) with a context of 100µs: %v", d, err)
			}
			if d == time.Hour && time.Since(start) > time.Second {
				t.Fatalf("Sleep(1h) with a context of 100µs took %v", time.Since(start))
			}
		}
		// A later sleep still waits its full time.
		start := time.Now()
		if err := finesleep.Sleep(context.Background(), 500*time.Microsecond); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got < 500*time.Microsecond {
			t.Fatalf("a sleep after cancelled ones returned after %v", got)
		}
	}
}

func TestConcurrentSleeps(t *testing.T) {
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 20 {
				start := time.Now()
				if err := finesleep.Sleep(context.Background(), 200*time.Microsecond); err != nil {
					t.Error(err)
					return
				}
				if got := time.Since(start); got < 200*time.Microsecond {
					t.Errorf("returned after %v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSleep reports how long a 200 µs wait takes, with Sleep and with
// time.Sleep (median, in µs), on an otherwise idle process.
func BenchmarkSleep(b *testing.B) {
	const d = 200 * time.Microsecond
	for _, tc := range []struct {
		name  string
		sleep func()
	}{
		{"finesleep", func() { _ = finesleep.Sleep(context.Background(), d) }},
		{"time.Sleep", func() { time.Sleep(d) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				tc.sleep()
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "median-µs")
		})
	}
}
