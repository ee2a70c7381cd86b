// Command flashsale sells a small stock to a crowd of buyers at once. Each
// buyer reads the stock of an item, checks out, and writes the stock back one
// lower. Unprotected, buyers who read the same stock all sell the same unit:
// the shop sells more than it has. With a row lock, the read and the write
// happen while the buyer holds the item's row, so the next buyer reads the
// stock the previous one left.
//
// By default the rows are in memory and the row lock is a lock.Locker per
// row; no servers are needed. With -db the rows are a table of PostgreSQL or
// MariaDB, locked with SELECT ... FOR UPDATE in a transaction (sqllock).
//
//	go run ./examples/flashsale
//	go run ./examples/flashsale -db postgres -postgres "$RACEFREE_POSTGRES_DSN"
//	go run ./examples/flashsale -lock redis     # any Locker as the in-memory row lock
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

func main() { workload.Main(program) }

var program = workload.Program{Name: "flashsale", Setup: setup}

// config is one run of the workload.
type config struct {
	buyers   int           // concurrent buyers; buyer b wants item b mod items
	items    int           // items on sale
	stock    int           // units of each item
	checkout time.Duration // time between reading the stock and writing it back
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.buyers, "buyers", 300, "concurrent buyers")
	fs.IntVar(&cfg.items, "items", 2, "items on sale")
	fs.IntVar(&cfg.stock, "stock", 50, "units in stock of each item")
	fs.DurationVar(&cfg.checkout, "checkout", time.Millisecond, "time between reading the stock and writing it back")
	backends := backend.Register(fs, backend.Memory, "")
	backends.RegisterDB(fs)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.buyers < 1 || cfg.items < 1 || cfg.stock < 0 || cfg.checkout < 0 {
			return nil, workload.Usagef("need -buyers and -items of at least 1 and -stock and -checkout of 0 or more (got %d, %d, %d, %v)",
				cfg.buyers, cfg.items, cfg.stock, cfg.checkout)
		}
		header := fmt.Sprintf("%d buyers, %d items of %d units each, %v to check out", cfg.buyers, cfg.items, cfg.stock, cfg.checkout)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return b.RowLocked("row lock",
				func(l lock.Locker) func(context.Context) (workload.Report, error) {
					return cfg.run(newMemoryShop(cfg, l))
				},
				func(protected bool) func(context.Context) (workload.Report, error) {
					return cfg.run(newSQLShop(cfg, b, protected))
				})
		})
	}
}
