// Command trading matches many concurrent buy orders against the resting
// sell liquidity of a few order books, each book one versioned item of a
// cas.Store. Unprotected, each order reads the book, matches and writes the
// book back, and concurrent orders overwrite each other's fills (lost
// updates: shares sold that the book never recorded). With optimistic
// concurrency (occ.Update), a write is a compare-and-swap on the version
// read, and an order that lost the race matches again against the fresh book.
//
//	go run ./examples/trading
//	go run ./examples/trading -store postgres -postgres "$RACEFREE_POSTGRES_DSN"
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

var program = workload.Program{Name: "trading", Setup: setup}

// config is one run of the workload.
type config struct {
	traders int           // concurrent buy orders; trader t buys symbol t mod symbols
	symbols int           // order books
	shares  int           // sell liquidity resting in each book
	match   time.Duration // time between reading a book and writing it back
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.traders, "traders", 200, "concurrent buy orders")
	fs.IntVar(&cfg.symbols, "symbols", 8, "order books")
	fs.IntVar(&cfg.shares, "shares", 60, "shares offered for sale in each book")
	fs.DurationVar(&cfg.match, "match", 500*time.Microsecond, "time between reading a book and writing it back")
	backends := backend.Register(fs, "", backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.traders < 1 || cfg.symbols < 1 || cfg.shares < 1 || cfg.match < 0 {
			return nil, workload.Usagef("need -traders, -symbols and -shares of at least 1 and -match of 0 or more (got %d, %d, %d, %v)",
				cfg.traders, cfg.symbols, cfg.shares, cfg.match)
		}
		header := fmt.Sprintf("%d buy orders on %d books of %d shares each, %v to match", cfg.traders, cfg.symbols, cfg.shares, cfg.match)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			m := market{cfg: cfg, store: b.Store}
			return []workload.Strategy{
				{Name: "unprotected", Run: m.run(m.unprotected)},
				b.Stored("occ", m.run(m.optimistic)),
			}
		})
	}
}
