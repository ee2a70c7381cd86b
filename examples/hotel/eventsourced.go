package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource"
	"github.com/racefree/racefree/examples/internal/workload"
)

// roomBooked is the one event of this hotel: a night of a room went to a
// guest.
type roomBooked struct {
	Room  int `json:"room"`
	Night int `json:"night"`
	Guest int `json:"guest"`
}

// roomState is the state of one room, rebuilt from its stream: night -> guest.
type roomState map[int]int

var rooms = eventsource.Aggregate[roomState]{Apply: func(r *roomState, e eventsource.Event) error {
	var b roomBooked
	if err := e.Decode(&b); err != nil {
		return err
	}
	if *r == nil {
		*r = make(roomState)
	}
	(*r)[b.Night] = b.Guest
	return nil
}}

var errTaken = errors.New("room already booked that night")

// availability is the read model: "room/night" -> guest, and how many
// bookings of an already booked night the projector saw (it must see none).
type availability struct {
	Booked  map[string]int `json:"booked"`
	Doubles int            `json:"doubles"`
}

func slotName(room, night int) string { return strconv.Itoa(room) + "/" + strconv.Itoa(night) }

var availabilityView = eventsource.Projection[availability]{
	Name: "availability",
	Apply: func(m *availability, e eventsource.Event) error {
		var b roomBooked
		if err := e.Decode(&b); err != nil {
			return err
		}
		if m.Booked == nil {
			m.Booked = make(map[string]int)
		}
		name := slotName(b.Room, b.Night)
		if _, taken := m.Booked[name]; taken {
			m.Doubles++
		}
		m.Booked[name] = b.Guest
		return nil
	},
}

// eventSourced runs the guests against the event store, with a projector
// keeping the view up to date in the background.
func (cfg config) eventSourced(kv cas.Store) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		es := eventsource.New(kv, eventsource.WithPrefix(workload.Namespace("hotel")))
		projector := eventsource.NewProjector(es, availabilityView)
		projCtx, stopProjector := context.WithCancel(ctx)
		var projErr error
		var wg sync.WaitGroup
		wg.Go(func() { projErr = projector.Run(projCtx, cfg.refresh) })

		var stale, duplicates atomic.Int64
		r, err := workload.Run(ctx, cfg.guests, func(ctx context.Context, guest int, rec *workload.Recorder) error {
			g := guestSession{cfg: cfg, es: es, view: projector, guest: guest, rec: rec}
			booked, err := g.book(ctx, &stale)
			if err != nil || !booked {
				return err
			}
			rec.Retries(1) // the response was lost: the guest sends the same command again
			out, err := g.send(ctx)
			if err != nil {
				return fmt.Errorf("retried command: %w", err)
			}
			if out.Duplicate {
				duplicates.Add(1)
			}
			return nil
		})
		stopProjector()
		wg.Wait()
		if err != nil {
			return r, err
		}
		if !errors.Is(projErr, context.Canceled) {
			return r, fmt.Errorf("projector: %w", projErr)
		}
		if _, err := projector.CatchUp(ctx); err != nil {
			return r, fmt.Errorf("projector: %w", err)
		}
		view, err := projector.View(ctx)
		if err != nil {
			return r, err
		}
		// Every booking a guest was told about must be in the view once.
		r.Violation = "double-booked"
		r.Violations = view.Model.Doubles + max(0, r.OK-len(view.Model.Booked))
		r.Note = fmt.Sprintf("%d retried commands applied once; view has %d bookings; %d commands sent on a stale view were refused",
			duplicates.Load(), len(view.Model.Booked), stale.Load())
		return r, nil
	}
}

// guestSession is one guest's booking.
type guestSession struct {
	cfg   config
	es    *eventsource.Store
	view  *eventsource.Projector[availability]
	guest int
	rec   *workload.Recorder
}

// book checks the view, then sends the command if the room looked free. It
// reports whether the guest got the room; a room the view or the command
// refused is counted as refused.
func (g guestSession) book(ctx context.Context, stale *atomic.Int64) (bool, error) {
	room, night := g.cfg.slot(g.guest)
	view, err := g.view.View(ctx)
	if err != nil && !errors.Is(err, cas.ErrNotFound) {
		return false, err
	}
	if _, taken := view.Model.Booked[slotName(room, night)]; taken {
		g.rec.Refused()
		return false, nil
	}
	out, err := g.send(ctx)
	g.rec.Conflicts(out.Conflicts)
	switch {
	case errors.Is(err, errTaken):
		stale.Add(1) // the view said free: it had not caught up yet
		g.rec.Refused()
		return false, nil
	case err != nil:
		return false, err
	}
	g.rec.OK()
	return true, nil
}

// send handles the guest's booking command, whose id is the same every time
// it is sent.
func (g guestSession) send(ctx context.Context) (eventsource.Outcome, error) {
	room, night := g.cfg.slot(g.guest)
	stream, id := "room-"+strconv.Itoa(room), "booking-"+strconv.Itoa(g.guest)
	start := time.Now()
	out, err := eventsource.Handle(ctx, g.es, rooms, stream, id, func(r roomState) ([]eventsource.Event, error) {
		if _, taken := r[night]; taken {
			return nil, errTaken
		}
		time.Sleep(g.cfg.think)
		e, err := eventsource.NewEvent("RoomBooked", roomBooked{Room: room, Night: night, Guest: g.guest})
		return []eventsource.Event{e}, err
	})
	if out.Conflicts > 0 {
		g.rec.Wait(time.Since(start))
	}
	return out, err
}
