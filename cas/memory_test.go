package cas_test

import (
	"context"
	"sync"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMemoryConformance runs the conformance suite: the Stores of one test
// share one Memory, as clients of one server share its data.
func TestMemoryConformance(t *testing.T) {
	var (
		mu     sync.Mutex
		shared = map[*testing.T]*cas.Memory{}
	)
	castest.Run(t, castest.Harness{
		NewStore: func(t *testing.T) cas.Store {
			mu.Lock()
			defer mu.Unlock()
			if shared[t] == nil {
				shared[t] = cas.NewMemory()
			}
			return shared[t]
		},
	})
}

func BenchmarkMemoryCompareAndSwap(b *testing.B) {
	ctx, s := b.Context(), cas.NewMemory()
	it, err := s.Create(ctx, "k", []byte("value"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if it, err = s.CompareAndSwap(ctx, "k", it.Version, it.Value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryGetParallel(b *testing.B) {
	s := cas.NewMemory()
	if _, err := s.Create(b.Context(), "k", make([]byte, 1024)); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(context.Background(), "k"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
