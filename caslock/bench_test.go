package caslock_test

import (
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

// BenchmarkLocker runs locktest's shared benchmarks on the in-memory Store:
// caslock's own cost (uncontended: a Get and a Create per grant, a
// CompareAndDelete per release); on a remote Store add those round trips
// (see the cas/dynamocas and cas/mongocas benchmarks). Under contention a
// grant costs a join of the queue, the release's hand-over and the polls
// (a few per grant): hand-offs wait for the head's next poll, about 1 ms
// with the default backoff policy.
func BenchmarkLocker(b *testing.B) {
	store := cas.NewMemory()
	locktest.Benchmark(b, func(b *testing.B) lock.Locker {
		l, err := caslock.New(store)
		if err != nil {
			b.Fatal(err)
		}
		return l
	})
}
