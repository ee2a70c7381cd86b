// Command fooddelivery caps the orders each restaurant's kitchen takes at
// once. Each restaurant has a counter of open orders in a cas.Store; an order
// is accepted only while the counter is below the kitchen's capacity.
// Unprotected, orders that read the same count all get in, and their
// increments overwrite each other: kitchens are swamped and the counter
// says they are not. With compare-and-swap on the counter's version, every
// accepted order is counted and none gets in past the cap.
//
//	go run ./examples/fooddelivery
//	go run ./examples/fooddelivery -store dynamodb    # any cas.Store: see -h
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

var program = workload.Program{Name: "fooddelivery", Setup: setup}

// config is one run of the workload.
type config struct {
	orders      int           // concurrent orders; order o goes to restaurant o mod restaurants
	restaurants int           // restaurants
	capacity    int           // orders a kitchen takes at once
	check       time.Duration // time between reading the counter and writing it
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.orders, "orders", 200, "concurrent orders")
	fs.IntVar(&cfg.restaurants, "restaurants", 4, "restaurants")
	fs.IntVar(&cfg.capacity, "capacity", 15, "orders each kitchen takes at once")
	fs.DurationVar(&cfg.check, "check", 500*time.Microsecond, "time between reading a restaurant's counter and writing it")
	backends := backend.Register(fs, "", backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.orders < 1 || cfg.restaurants < 1 || cfg.capacity < 0 || cfg.check < 0 {
			return nil, workload.Usagef("need -orders and -restaurants of at least 1 and -capacity and -check of 0 or more (got %d, %d, %d, %v)",
				cfg.orders, cfg.restaurants, cfg.capacity, cfg.check)
		}
		header := fmt.Sprintf("%d orders to %d restaurants of capacity %d, %v between reading and writing the counter",
			cfg.orders, cfg.restaurants, cfg.capacity, cfg.check)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			k := kitchens{cfg: cfg, store: b.Store}
			return []workload.Strategy{
				{Name: "unprotected", Run: k.run(false)},
				b.Stored("cas", k.run(true)),
			}
		})
	}
}
