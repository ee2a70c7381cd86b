// Command ridehailing dispatches ride requests to the drivers who accept
// them, and must give each ride to exactly one driver. Unprotected, drivers
// who tap "accept" at the same moment all see the ride open and all are sent
// to the rider. It is fixed two ways: a lock per ride (the first driver to
// get it wins, the others are told at once that it is taken), or a
// compare-and-swap that creates the ride's assignment only if none exists.
//
//	go run ./examples/ridehailing
//	go run ./examples/ridehailing -strategy lock -lock etcd
//	go run ./examples/ridehailing -strategy cas -store mongodb
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

var program = workload.Program{Name: "ridehailing", Setup: setup}

// config is one run of the workload.
type config struct {
	drivers int           // concurrent drivers; driver d accepts ride d mod rides
	rides   int           // open ride requests
	accept  time.Duration // time between seeing a ride open and taking it
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.drivers, "drivers", 150, "concurrent drivers accepting rides")
	fs.IntVar(&cfg.rides, "rides", 30, "open ride requests")
	fs.DurationVar(&cfg.accept, "accept", time.Millisecond, "time between seeing a ride open and taking it")
	choice := backend.RegisterChoice(fs)
	backends := backend.Register(fs, backend.Memory, backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.drivers < 1 || cfg.rides < 1 || cfg.accept < 0 {
			return nil, workload.Usagef("need -drivers and -rides of at least 1 and -accept of 0 or more (got %d, %d, %v)", cfg.drivers, cfg.rides, cfg.accept)
		}
		if err := choice.Validate(); err != nil {
			return nil, err
		}
		header := fmt.Sprintf("%d drivers accepting %d rides, %v between seeing a ride open and taking it", cfg.drivers, cfg.rides, cfg.accept)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return choice.Pick(
				workload.Strategy{Name: "unprotected", Run: cfg.run(unprotected(cfg))},
				b.Locked("lock", cfg.run(withLock(cfg, b.Locker))),
				b.Stored("cas", cfg.run(withCAS(cfg, b.Store))),
			)
		})
	}
}
