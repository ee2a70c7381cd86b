package caslock_test

import (
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/lock"
)

// BenchmarkAcquireRelease measures caslock's own cost of an uncontended
// grant and release on the in-memory Store (a Get and a Create, then a
// CompareAndDelete); on a remote Store add three round trips (see the
// cas/dynamocas and cas/mongocas benchmarks).
func BenchmarkAcquireRelease(b *testing.B) {
	l, err := caslock.New(cas.NewMemory())
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	for b.Loop() {
		lease, err := l.TryAcquire(ctx, "bench", lock.WithoutAutoRefresh())
		if err != nil {
			b.Fatal(err)
		}
		if err := lease.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
