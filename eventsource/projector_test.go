package eventsource_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource"
)

// countingStore counts reads, to show how much of the log a catch-up reads.
type countingStore struct {
	cas.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (cas.Item, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// A catch-up reads the batches after its checkpoint, not the whole stream.
func TestCatchUpReadsOnlyNewBatches(t *testing.T) {
	ctx := context.Background()
	kv := &countingStore{Store: cas.NewMemory()}
	s := eventsource.New(kv)
	for v := range uint64(50) {
		e, _ := eventsource.NewEvent("E", v)
		if _, err := s.Append(ctx, "long", v, "", e); err != nil {
			t.Fatal(err)
		}
	}
	pr := eventsource.NewProjector(s, eventsource.Projection[int]{Name: "count", Apply: func(n *int, _ eventsource.Event) error { *n++; return nil }})
	if n, err := pr.CatchUp(ctx); err != nil || n != 50 {
		t.Fatalf("first CatchUp: %d, %v", n, err)
	}
	e, _ := eventsource.NewEvent("E", 50)
	if _, err := s.Append(ctx, "long", 50, "", e); err != nil {
		t.Fatal(err)
	}
	before := kv.gets.Load()
	if n, err := pr.CatchUp(ctx); err != nil || n != 1 {
		t.Fatalf("second CatchUp: %d, %v", n, err)
	}
	// The view, the stream list, the new batch and the miss after it.
	if reads := kv.gets.Load() - before; reads > 4 {
		t.Fatalf("a catch-up after one append read %d items; it re-read the stream", reads)
	}
	v, err := pr.View(ctx)
	if err != nil || v.Model != 51 || v.Checkpoints["long"] != 51 {
		t.Fatalf("view %+v, %v; want 51 events applied", v, err)
	}
}

// A Rebuild whose Apply fails leaves the saved model as it was: the old
// model is replaced in the same write that saves the new one, never deleted
// first.
func TestFailedRebuildKeepsTheOldModel(t *testing.T) {
	ctx := context.Background()
	s := eventsource.New(cas.NewMemory())
	for v := range uint64(3) {
		e, _ := eventsource.NewEvent("E", v)
		if _, err := s.Append(ctx, "s", v, "", e); err != nil {
			t.Fatal(err)
		}
	}
	count := eventsource.Projection[int]{Name: "count", Apply: func(n *int, _ eventsource.Event) error { *n++; return nil }}
	if _, err := eventsource.NewProjector(s, count).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	broken := count
	broken.Apply = func(n *int, e eventsource.Event) error {
		if e.Version == 2 {
			return errors.New("apply refused")
		}
		*n++
		return nil
	}
	if _, err := eventsource.NewProjector(s, broken).Rebuild(ctx); err == nil {
		t.Fatal("Rebuild with a failing Apply returned no error")
	}
	v, err := eventsource.NewProjector(s, count).View(ctx)
	if err != nil || v.Model != 3 || v.Checkpoints["s"] != 3 {
		t.Fatalf("after a failed Rebuild the view is %+v, %v; want the old model (3 events)", v, err)
	}
	// A Rebuild that works replaces it, and one over an empty log saves an
	// empty model.
	if n, err := eventsource.NewProjector(s, count).Rebuild(ctx); err != nil || n != 3 {
		t.Fatalf("Rebuild: %d, %v; want 3", n, err)
	}
	empty := eventsource.New(cas.NewMemory(), eventsource.WithPrefix("other"))
	if n, err := eventsource.NewProjector(empty, count).Rebuild(ctx); err != nil || n != 0 {
		t.Fatalf("Rebuild of an empty log: %d, %v", n, err)
	}
}
