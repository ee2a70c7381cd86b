// Command hotel books hotel rooms with CQRS and event sourcing. Guests read
// availability from a view (the query side), and send booking commands with
// an id (the command side). A command is decided against the room's state
// rebuilt from its events and appended to the room's stream only if the
// stream is still at the version it was decided on; a retried command
// returns its first result instead of booking twice. A projector folds the
// events into the availability view in the background, so the view lags a
// little behind: eventually consistent.
//
// The same guests are first run against a plain check-then-insert booking
// table, which books rooms twice. By default the events live in an in-memory
// cas.Store; no servers are needed.
//
//	go run ./examples/hotel
//	go run ./examples/hotel -store postgres    # any cas.Store: see -h
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
)

func main() { workload.Main(program) }

var program = workload.Program{Name: "hotel", Setup: setup}

// config is one run of the workload.
type config struct {
	guests  int           // concurrent guests; guest g wants room g mod rooms, night (g / rooms) mod nights
	rooms   int           // rooms in the hotel
	nights  int           // nights on sale
	think   time.Duration // time between checking a room and booking it
	refresh time.Duration // how often the projector updates the view
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.guests, "guests", 200, "concurrent guests, each sending one booking command and retrying it once")
	fs.IntVar(&cfg.rooms, "rooms", 5, "rooms in the hotel")
	fs.IntVar(&cfg.nights, "nights", 4, "nights on sale")
	fs.DurationVar(&cfg.think, "think", time.Millisecond, "time between checking a room and booking it")
	fs.DurationVar(&cfg.refresh, "refresh", 5*time.Millisecond, "how often the projector brings the availability view up to date")
	backends := backend.Register(fs, "", backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.guests < 1 || cfg.rooms < 1 || cfg.nights < 1 || cfg.think < 0 || cfg.refresh <= 0 {
			return nil, workload.Usagef("need -guests, -rooms and -nights of at least 1, -think of 0 or more and a positive -refresh (got %d, %d, %d, %v, %v)",
				cfg.guests, cfg.rooms, cfg.nights, cfg.think, cfg.refresh)
		}
		header := fmt.Sprintf("%d guests, %d rooms x %d nights, every booking resent once (its response was lost), %v to decide, view refreshed every %v",
			cfg.guests, cfg.rooms, cfg.nights, cfg.think, cfg.refresh)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return []workload.Strategy{
				{Name: "unprotected", Run: cfg.unprotected},
				b.Stored("cqrs+es", cfg.eventSourced(b.Store)),
			}
		})
	}
}

// slot is what guest g asks for.
func (cfg config) slot(guest int) (room, night int) {
	return guest % cfg.rooms, (guest / cfg.rooms) % cfg.nights
}
