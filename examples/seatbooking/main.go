// Command seatbooking sells a few seats to many concurrent buyers three ways:
// with no protection (and counts the double bookings that causes), under a
// lock per seat, and with optimistic compare-and-swap. By default it runs on
// racefree's in-memory backends; no servers are needed.
//
//	go run ./examples/seatbooking -buyers 300 -seats 20
//	go run ./examples/seatbooking -lock redis -redis 127.0.0.1:6379
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

var program = workload.Program{Name: "seatbooking", Setup: setup}

// config is one run of the workload.
type config struct {
	buyers  int           // concurrent buyers
	seats   int           // seats on sale; every buyer wants one at random
	payment time.Duration // time between checking a seat and booking it
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.buyers, "buyers", 300, "concurrent buyers")
	fs.IntVar(&cfg.seats, "seats", 20, "seats on sale")
	fs.DurationVar(&cfg.payment, "payment", 2*time.Millisecond, "time between checking a seat and booking it")
	backends := backend.Register(fs, backend.Memory, backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.buyers < 1 || cfg.seats < 1 || cfg.payment < 0 {
			return nil, workload.Usagef("need -buyers and -seats of at least 1 and -payment of 0 or more (got %d, %d, %v)", cfg.buyers, cfg.seats, cfg.payment)
		}
		header := fmt.Sprintf("%d buyers, %d seats, %v between check and booking", cfg.buyers, cfg.seats, cfg.payment)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return []workload.Strategy{
				{Name: "unprotected", Run: cfg.run(unprotected(cfg))},
				b.Locked("lock", cfg.run(withLock(cfg, b.Locker))),
				b.Stored("occ", cfg.run(withOCC(cfg, b.Store))),
			}
		})
	}
}
