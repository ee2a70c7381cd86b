package lock_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	shared := lock.NewMemory()
	locktest.Run(t, locktest.Harness{
		// All "processes" share one in-memory lock table, as goroutines of one
		// process do.
		NewLocker: func(*testing.T) lock.Locker { return shared },
	})
}

func BenchmarkMemory(b *testing.B) {
	shared := lock.NewMemory()
	locktest.Benchmark(b, func(*testing.B) lock.Locker { return shared })
}
