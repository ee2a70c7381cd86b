package eventsource_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource"
)

// A hotel room is an aggregate: its state is rebuilt from its events, and a
// booking command either appends a RoomBooked event or is refused.
func ExampleHandle() {
	ctx := context.Background()
	store := eventsource.New(cas.NewMemory())
	type room struct{ Booked map[string]bool }
	agg := eventsource.Aggregate[room]{Apply: func(r *room, e eventsource.Event) error {
		var night string
		if err := e.Decode(&night); err != nil {
			return err
		}
		if r.Booked == nil {
			r.Booked = make(map[string]bool)
		}
		r.Booked[night] = true
		return nil
	}}
	book := func(night string) func(room) ([]eventsource.Event, error) {
		return func(r room) ([]eventsource.Event, error) {
			if r.Booked[night] {
				return nil, errors.New("already booked")
			}
			e, err := eventsource.NewEvent("RoomBooked", night)
			return []eventsource.Event{e}, err
		}
	}
	out, err := eventsource.Handle(ctx, store, agg, "room-101", "booking-1", book("2026-12-24"))
	fmt.Println(out.Version, err)
	out, err = eventsource.Handle(ctx, store, agg, "room-101", "booking-1", book("2026-12-24"))
	fmt.Println(out.Version, out.Duplicate, err)
	_, err = eventsource.Handle(ctx, store, agg, "room-101", "booking-2", book("2026-12-24"))
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// 1 true <nil>
	// already booked
}
