package eventsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource"
)

type count struct{ N int }

var countAggregate = eventsource.Aggregate[count]{Apply: func(c *count, _ eventsource.Event) error { c.N++; return nil }}

func mustEvent(t *testing.T, typ string, data any) eventsource.Event {
	t.Helper()
	e, err := eventsource.NewEvent(typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The first outcome of a command carries the events as stored, exactly as a
// retry of the command and Load return them: At set, Data as encoded.
func TestHandleReturnsEventsAsStored(t *testing.T) {
	ctx := context.Background()
	s := eventsource.New(cas.NewMemory())
	decide := func(count) ([]eventsource.Event, error) {
		return []eventsource.Event{{Type: "E", Data: json.RawMessage(`{ "a" : "<1>" }`)}}, nil
	}
	first, err := eventsource.Handle(ctx, s, countAggregate, "x", "cmd-1", decide)
	if err != nil {
		t.Fatal(err)
	}
	again, err := eventsource.Handle(ctx, s, countAggregate, "x", "cmd-1", decide)
	if err != nil || !again.Duplicate {
		t.Fatalf("retried Handle: %+v, %v", again, err)
	}
	stored, _, err := s.Load(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].At.IsZero() {
		t.Fatalf("stored events %+v, want one with At set", stored)
	}
	if !reflect.DeepEqual(first.Events, stored) {
		t.Errorf("first outcome's events %+v (data %s), stored %+v (data %s)", first.Events, first.Events[0].Data, stored, stored[0].Data)
	}
	if !reflect.DeepEqual(again.Events, stored) {
		t.Errorf("retried outcome's events %+v, stored %+v", again.Events, stored)
	}
}

// An append refused for its events leaves nothing behind: no batch, and no
// entry in the list of streams.
func TestRefusedAppendRegistersNoStream(t *testing.T) {
	ctx := context.Background()
	s := eventsource.New(cas.NewMemory())
	if _, err := s.Append(ctx, "ghost", 0, "", eventsource.Event{}); !errors.Is(err, eventsource.ErrInvalid) {
		t.Fatalf("Append of an event without a type: %v, want ErrInvalid", err)
	}
	if names, err := s.Streams(ctx); err != nil || len(names) != 0 {
		t.Fatalf("after a refused append, Streams() = %q, %v; want none", names, err)
	}
}

// Event input the store could not keep as given is refused with ErrInvalid,
// and nothing is stored.
func TestBadEventsRefused(t *testing.T) {
	ctx := context.Background()
	s := eventsource.New(cas.NewMemory())
	for i, e := range []eventsource.Event{
		{Type: "E", Data: json.RawMessage("not json")},
		{Type: "E", Data: json.RawMessage(`{"a":1`)},
		{Type: "E", Data: json.RawMessage("\"bad-\xff\"")},
		{Type: "bad-\xff"},
	} {
		stream := fmt.Sprintf("s%d", i)
		if _, err := s.Append(ctx, stream, 0, "", e); !errors.Is(err, eventsource.ErrInvalid) {
			t.Errorf("Append of %+v: %v, want ErrInvalid", e, err)
		}
		if events, v, err := s.Load(ctx, stream, 0); err != nil || v != 0 || len(events) != 0 {
			t.Errorf("refused event %+v was stored: %+v, version %d, %v", e, events, v, err)
		}
	}
	if names, err := s.Streams(ctx); err != nil || len(names) != 0 {
		t.Errorf("refused events registered streams %q, %v", names, err)
	}
}

// Bad input gets ErrInvalid, never a panic.
func TestBadInputDoesNotPanic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := eventsource.New(cas.NewMemory())
	e := mustEvent(t, "E", 1)
	if _, err := s.Append(ctx, "p", 0, "", e); err != nil {
		t.Fatal(err)
	}
	one := func(count) ([]eventsource.Event, error) { return []eventsource.Event{e}, nil }
	apply := func(n *int, _ eventsource.Event) error { *n++; return nil }
	nilKV := eventsource.New(nil)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Handle with an aggregate without Apply", func() error {
			_, err := eventsource.Handle(ctx, s, eventsource.Aggregate[count]{}, "p", "c1", one)
			return err
		}},
		{"Handle with a nil decide", func() error {
			_, err := eventsource.Handle[count](ctx, s, countAggregate, "p", "c2", nil)
			return err
		}},
		{"Handle on a nil *Store", func() error {
			_, err := eventsource.Handle(ctx, nil, countAggregate, "p", "c3", one)
			return err
		}},
		{"Handle on New(nil)", func() error {
			_, err := eventsource.Handle(ctx, nilKV, countAggregate, "p", "c4", one)
			return err
		}},
		{"New(nil).Append", func() error { _, err := nilKV.Append(ctx, "p", 0, "", e); return err }},
		{"New(nil).Append at version 1", func() error { _, err := nilKV.Append(ctx, "p", 1, "", e); return err }},
		{"New(nil).Load", func() error { _, _, err := nilKV.Load(ctx, "p", 0); return err }},
		{"New(nil).Streams", func() error { _, err := nilKV.Streams(ctx); return err }},
		{"CatchUp of a projection without Apply", func() error {
			_, err := eventsource.NewProjector(s, eventsource.Projection[int]{Name: "n"}).CatchUp(ctx)
			return err
		}},
		{"Rebuild of a projection without Apply", func() error {
			_, err := eventsource.NewProjector(s, eventsource.Projection[int]{Name: "n"}).Rebuild(ctx)
			return err
		}},
		{"CatchUp over New(nil)", func() error {
			_, err := eventsource.NewProjector(nilKV, eventsource.Projection[int]{Name: "n", Apply: apply}).CatchUp(ctx)
			return err
		}},
		{"View over a nil *Store", func() error {
			_, err := eventsource.NewProjector(nil, eventsource.Projection[int]{Name: "n", Apply: apply}).View(ctx)
			return err
		}},
		{"Run with interval 0", func() error {
			return eventsource.NewProjector(s, eventsource.Projection[int]{Name: "n", Apply: apply}).Run(ctx, 0)
		}},
		{"Run with a negative interval", func() error {
			return eventsource.NewProjector(s, eventsource.Projection[int]{Name: "n", Apply: apply}).Run(ctx, -time.Second)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panicked: %v", r)
				}
			}()
			if err := c.call(); !errors.Is(err, eventsource.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	// A nil Option is ignored.
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("New with a nil Option panicked: %v", r)
			}
		}()
		if _, err := eventsource.New(cas.NewMemory(), nil).Append(ctx, "p", 0, "", e); err != nil {
			t.Errorf("Append through New with a nil Option: %v", err)
		}
	}()
	// Nothing of the refused calls was stored.
	if _, v, err := s.Load(ctx, "p", 0); err != nil || v != 1 {
		t.Errorf("stream p at version %d, %v; want 1", v, err)
	}
}
