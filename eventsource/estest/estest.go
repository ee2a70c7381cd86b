// Package estest is the conformance suite of package eventsource over a
// cas.Store: every Store adapter runs it to prove that event streams, commands
// and projections keep their guarantees on that backend.
package estest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource"
)

// Run runs every case as a subtest of t. newKV returns a new client of one
// namespace shared by all calls of the same test, as cas/castest's harness does.
func Run(t *testing.T, newKV func(t *testing.T) cas.Store) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) *eventsource.Store)
	}{
		{"AppendExpectedVersion", testAppendExpectedVersion},
		{"ConcurrentAppendsOneWins", testConcurrentAppendsOneWins},
		{"CommandAtMostOnce", testCommandAtMostOnce},
		{"ConcurrentCommandsLoseNothing", testConcurrentCommandsLoseNothing},
		{"Snapshots", testSnapshots},
		{"ProjectorResumesExactlyOnce", testProjectorResumesExactlyOnce},
		{"ConcurrentProjectors", testConcurrentProjectors},
		{"BadInput", testBadInput},
	} {
		t.Run(c.name, func(t *testing.T) {
			prefix := "es" + randomHex(t)
			c.fn(t, func(t *testing.T) *eventsource.Store {
				return eventsource.New(newKV(t), eventsource.WithPrefix(prefix))
			})
		})
	}
}

func randomHex(t *testing.T) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func event(t *testing.T, typ string, data any) eventsource.Event {
	e, err := eventsource.NewEvent(typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// counter is the aggregate of the command cases: a count with a capacity.
type counter struct{ N int }

var errFull = errors.New("full")

func counterAggregate(every uint64) eventsource.Aggregate[counter] {
	return eventsource.Aggregate[counter]{
		SnapshotEvery: every,
		Apply: func(c *counter, e eventsource.Event) error {
			if e.Type != "Added" {
				return fmt.Errorf("unknown event %s", e.Type)
			}
			c.N++
			return nil
		},
	}
}

func add(t *testing.T, capacity int) func(counter) ([]eventsource.Event, error) {
	return func(c counter) ([]eventsource.Event, error) {
		if c.N >= capacity {
			return nil, errFull
		}
		return []eventsource.Event{event(t, "Added", c.N+1)}, nil
	}
}

func testAppendExpectedVersion(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	a, b := newStore(t), newStore(t)
	v, err := a.Append(ctx, "room-1", 0, "", event(t, "Booked", 1), event(t, "Booked", 2))
	if err != nil || v != 2 {
		t.Fatalf("first Append: version %d, err %v; want 2, nil", v, err)
	}
	if _, err := b.Append(ctx, "room-1", 0, "", event(t, "Booked", 3)); !errors.Is(err, eventsource.ErrConflict) {
		t.Fatalf("Append at a stale version: %v, want ErrConflict", err)
	}
	if _, err := b.Append(ctx, "room-1", 1, "", event(t, "Booked", 3)); !errors.Is(err, eventsource.ErrConflict) {
		t.Fatalf("Append at a version inside the last batch: %v, want ErrConflict", err)
	}
	if v, err := b.Append(ctx, "room-1", 2, "", event(t, "Booked", 3)); err != nil || v != 3 {
		t.Fatalf("Append at the current version: %d, %v", v, err)
	}
	// a's view of the stream is stale now; it must still refuse version 2.
	if _, err := a.Append(ctx, "room-1", 2, "", event(t, "Booked", 4)); !errors.Is(err, eventsource.ErrConflict) {
		t.Fatalf("Append through a store with a stale head: %v, want ErrConflict", err)
	}
	events, version, err := a.Load(ctx, "room-1", 1)
	if err != nil || version != 3 || len(events) != 2 {
		t.Fatalf("Load after 1: %d events, version %d, err %v; want 2, 3, nil", len(events), version, err)
	}
	for i, e := range events {
		var n int
		if err := e.Decode(&n); err != nil || n != i+2 || e.Version != uint64(i+2) || e.Stream != "room-1" {
			t.Errorf("event %d: %+v (payload %d, %v)", i, e, n, err)
		}
	}
	if events, version, err := a.Load(ctx, "room-2", 0); err != nil || version != 0 || len(events) != 0 {
		t.Fatalf("Load of an empty stream: %v, %d, %v", events, version, err)
	}
}

func testConcurrentAppendsOneWins(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	const writers = 8
	ctx := ctxFor(t)
	var wins sync.WaitGroup
	results := make(chan error, writers)
	for i := range writers {
		s := newStore(t)
		wins.Add(1)
		go func() {
			defer wins.Done()
			_, err := s.Append(ctx, "race", 0, "", event(t, "Claimed", i))
			results <- err
		}()
	}
	wins.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, eventsource.ErrConflict):
			t.Fatalf("Append: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent appends at version 0 succeeded, want exactly 1", won, writers)
	}
}

func testCommandAtMostOnce(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	s := newStore(t)
	agg := counterAggregate(0)
	first, err := eventsource.Handle(ctx, s, agg, "c", "cmd-1", add(t, 10))
	if err != nil || first.Duplicate || first.Version != 1 {
		t.Fatalf("first Handle: %+v, %v", first, err)
	}
	again, err := eventsource.Handle(ctx, newStore(t), agg, "c", "cmd-1", add(t, 10))
	if err != nil || !again.Duplicate || again.Version != 1 || len(again.Events) != 1 || again.Events[0].Version != 1 {
		t.Fatalf("retried Handle: %+v, %v; want the first outcome marked duplicate", again, err)
	}
	stored, version, err := s.Load(ctx, "c", 0)
	if err != nil || version != 1 {
		t.Fatalf("stream at version %d (%v) after a retried command, want 1", version, err)
	}
	// The first outcome, the retried one and the stream agree on every field.
	if !reflect.DeepEqual(first.Events, stored) || !reflect.DeepEqual(again.Events, stored) {
		t.Fatalf("events of the first outcome %+v and of the retried one %+v differ from those stored %+v", first.Events, again.Events, stored)
	}
	if _, err := eventsource.Handle(ctx, s, agg, "c", "cmd-2", func(counter) ([]eventsource.Event, error) { return nil, errFull }); !errors.Is(err, errFull) {
		t.Fatalf("Handle refused by decide: %v, want decide's error", err)
	}
}

func testConcurrentCommandsLoseNothing(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	const commands, capacity = 16, 10
	ctx := ctxFor(t)
	agg := counterAggregate(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := range commands {
		s := newStore(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := eventsource.Handle(ctx, s, agg, "counter", fmt.Sprintf("cmd-%d", i), add(t, capacity))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, errFull):
				refused++
			default:
				t.Errorf("command %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	events, version, err := newStore(t).Load(ctx, "counter", 0)
	if err != nil {
		t.Fatal(err)
	}
	if accepted != capacity || refused != commands-capacity || version != capacity || len(events) != capacity {
		t.Fatalf("accepted %d, refused %d, stream version %d with %d events; want %d accepted and stored, %d refused",
			accepted, refused, version, len(events), capacity, commands-capacity)
	}
}

func testSnapshots(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	s := newStore(t)
	agg := counterAggregate(5)
	for i := range 23 {
		if _, err := eventsource.Handle(ctx, s, agg, "long", fmt.Sprintf("cmd-%d", i), add(t, 100)); err != nil {
			t.Fatal(err)
		}
	}
	// An old command is still recognised through the snapshot.
	out, err := eventsource.Handle(ctx, newStore(t), agg, "long", "cmd-2", add(t, 100))
	if err != nil || !out.Duplicate || out.Version != 3 {
		t.Fatalf("retried old command: %+v, %v; want the duplicate of version 3", out, err)
	}
	// A state built from the snapshot equals one replayed from scratch.
	out, err = eventsource.Handle(ctx, newStore(t), agg, "long", "cmd-last", add(t, 100))
	if err != nil || out.Version != 24 {
		t.Fatalf("command after snapshots: %+v, %v", out, err)
	}
	var n int
	if err := out.Events[0].Decode(&n); err != nil || n != 24 {
		t.Fatalf("state from the snapshot counted %d, want 23 before the last command", n-1)
	}
}
