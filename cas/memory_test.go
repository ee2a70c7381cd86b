package cas_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMemoryConformance runs the conformance suite: the Stores of one test
// share one Memory, as clients of one server share its data.
func TestMemoryConformance(t *testing.T) { runMemoryConformance(t, cas.NewMemory) }

// runMemoryConformance runs castest on Memory values made by newMemory, one
// per test, shared by that test's Stores.
func runMemoryConformance(t *testing.T, newMemory func() *cas.Memory) {
	var (
		mu     sync.Mutex
		shared = map[*testing.T]*cas.Memory{}
	)
	castest.Run(t, castest.Harness{
		NewStore: func(t *testing.T) cas.Store {
			mu.Lock()
			defer mu.Unlock()
			if shared[t] == nil {
				shared[t] = newMemory()
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

// TestZeroMemory: the zero Memory is an empty Store, ready to use.
func TestZeroMemory(t *testing.T) {
	ctx := t.Context()
	var m cas.Memory
	if _, err := m.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get of the zero Memory: %v, want ErrNotFound", err)
	}
	if err := m.CompareAndDelete(ctx, "k", 1); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("CompareAndDelete of the zero Memory: %v, want ErrNotFound", err)
	}
	it, err := m.Create(ctx, "k", []byte("v"))
	if err != nil || it.Version != 1 {
		t.Fatalf("Create in the zero Memory: %+v, %v; want version 1", it, err)
	}
	if it, err = m.CompareAndSwap(ctx, "k", 1, []byte("w")); err != nil || it.Version != 2 {
		t.Fatalf("CompareAndSwap in the zero Memory: %+v, %v; want version 2", it, err)
	}
}

// TestZeroMemoryConformance runs the conformance suite on zero Memory values.
func TestZeroMemoryConformance(t *testing.T) {
	runMemoryConformance(t, func() *cas.Memory { return new(cas.Memory) })
}
