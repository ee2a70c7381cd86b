package estest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/racefree/racefree/eventsource"
)

// tally is the read model of the projection cases: events seen per stream.
type tally struct{ Seen map[string]int }

func tallyProjection(name string, fail *int) eventsource.Projection[tally] {
	return eventsource.Projection[tally]{
		Name: name,
		Apply: func(m *tally, e eventsource.Event) error {
			if fail != nil {
				if *fail == 0 {
					return errors.New("projector crashed")
				}
				*fail--
			}
			if m.Seen == nil {
				m.Seen = make(map[string]int)
			}
			m.Seen[e.Stream]++
			return nil
		},
	}
}

func appendN(t *testing.T, s *eventsource.Store, stream string, from, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(ctxFor(t), stream, uint64(from+i), "", event(t, "E", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func testProjectorResumesExactlyOnce(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	s := newStore(t)
	appendN(t, s, "a", 0, 3)
	appendN(t, s, "b", 0, 2)

	// A projector that dies after 4 of 5 events saves nothing.
	failAfter := 4
	crashing := eventsource.NewProjector(s, tallyProjection("rooms", &failAfter))
	if _, err := crashing.CatchUp(ctx); err == nil {
		t.Fatal("CatchUp with a failing Apply reported success")
	}
	pr := eventsource.NewProjector(newStore(t), tallyProjection("rooms", nil))
	if n, err := pr.CatchUp(ctx); err != nil || n != 5 {
		t.Fatalf("CatchUp after the crash applied %d, %v; want all 5", n, err)
	}
	appendN(t, s, "a", 3, 2)
	appendN(t, s, "c", 0, 1)
	if n, err := pr.CatchUp(ctx); err != nil || n != 3 {
		t.Fatalf("second CatchUp applied %d, %v; want the 3 new events", n, err)
	}
	if n, err := pr.CatchUp(ctx); err != nil || n != 0 {
		t.Fatalf("idle CatchUp applied %d, %v", n, err)
	}
	want := map[string]int{"a": 5, "b": 2, "c": 1}
	checkTally(t, pr, want)
	if n, err := pr.Rebuild(ctx); err != nil || n != 8 {
		t.Fatalf("Rebuild applied %d, %v; want 8", n, err)
	}
	checkTally(t, pr, want)
}

func checkTally(t *testing.T, pr *eventsource.Projector[tally], want map[string]int) {
	t.Helper()
	v, err := pr.View(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	for stream, n := range want {
		if v.Model.Seen[stream] != n || v.Checkpoints[stream] != uint64(n) {
			t.Errorf("stream %s: applied %d times, checkpoint %d; want %d", stream, v.Model.Seen[stream], v.Checkpoints[stream], n)
		}
	}
	if len(v.Model.Seen) != len(want) {
		t.Errorf("model has streams %v, want %v", v.Model.Seen, want)
	}
}

func testConcurrentProjectors(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	writer := newStore(t)
	var wg sync.WaitGroup
	for p := range 3 {
		pr := eventsource.NewProjector(newStore(t), tallyProjection("shared", nil))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := pr.CatchUp(ctx); err != nil && !errors.Is(err, eventsource.ErrConflict) {
					t.Errorf("projector %d: %v", p, err)
					return
				}
			}
		}()
	}
	for i := range 4 {
		appendN(t, writer, fmt.Sprintf("s%d", i), 0, 3)
	}
	wg.Wait()
	final := eventsource.NewProjector(newStore(t), tallyProjection("shared", nil))
	for {
		n, err := final.CatchUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	checkTally(t, final, map[string]int{"s0": 3, "s1": 3, "s2": 3, "s3": 3})
}

func testBadInput(t *testing.T, newStore func(*testing.T) *eventsource.Store) {
	ctx := ctxFor(t)
	s := newStore(t)
	for _, stream := range []string{"", "a/b", "bad\x00", "bad-\xff"} {
		if _, err := s.Append(ctx, stream, 0, "", event(t, "E", 1)); !errors.Is(err, eventsource.ErrInvalid) {
			t.Errorf("Append to stream %q: %v, want ErrInvalid", stream, err)
		}
	}
	if _, err := s.Append(ctx, "ok", 0, ""); !errors.Is(err, eventsource.ErrInvalid) {
		t.Errorf("Append of no events: %v, want ErrInvalid", err)
	}
	for i, e := range []eventsource.Event{
		{},                 // no type
		{Type: "bad-\xff"}, // a type JSON would alter
		{Type: "E", Data: json.RawMessage("not json")},
		{Type: "E", Data: json.RawMessage("\"bad-\xff\"")}, // JSON must be UTF-8
	} {
		stream := fmt.Sprintf("bad-event-%d", i)
		if _, err := s.Append(ctx, stream, 0, "", event(t, "E", 1), e); !errors.Is(err, eventsource.ErrInvalid) {
			t.Errorf("Append of event %+v: %v, want ErrInvalid", e, err)
		}
		if _, v, err := s.Load(ctx, stream, 0); err != nil || v != 0 {
			t.Errorf("refused event %+v left %s at version %d (%v)", e, stream, v, err)
		}
	}
	if _, err := eventsource.Handle(ctx, s, counterAggregate(0), "ok", "", add(t, 1)); !errors.Is(err, eventsource.ErrInvalid) {
		t.Errorf("Handle without a command id: %v, want ErrInvalid", err)
	}
	if _, v, err := s.Load(ctx, "ok", 0); err != nil || v != 0 {
		t.Errorf("refused input left the stream at version %d (%v)", v, err)
	}
	if names, err := s.Streams(ctx); err != nil || len(names) != 0 {
		t.Errorf("refused input left streams %q behind (%v)", names, err)
	}
}
