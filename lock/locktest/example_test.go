package locktest_test

import (
	"testing"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

// An adapter's test proves its Locker with a harness that makes independent
// Lockers, as separate processes would have them. lock.NewMemory stands in for
// an adapter here; a real adapter opens a new client per call and closes it
// with t.Cleanup.
func ExampleRun() {
	conformance := func(t *testing.T) {
		shared := lock.NewMemory()
		locktest.Run(t, locktest.Harness{
			NewLocker: func(*testing.T) lock.Locker { return shared },
		})
	}
	_ = conformance // in a _test.go file: func TestConformance(t *testing.T) { ... }
}

// The shared benchmarks measure every backend the same way.
func ExampleBenchmark() {
	benchmark := func(b *testing.B) {
		shared := lock.NewMemory()
		locktest.Benchmark(b, func(*testing.B) lock.Locker { return shared })
	}
	_ = benchmark // in a _test.go file: func BenchmarkLocker(b *testing.B) { ... }
}
