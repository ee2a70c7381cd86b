// Command banking moves money between accounts with many transfers at once.
// The invariant: no balance goes below zero and the total never changes.
// Unprotected, a transfer checks the balance, then debits, then credits by
// reading and writing each account: concurrent transfers overdraw accounts
// and overwrite each other's credits, destroying money. With pessimistic
// locking, a transfer locks both accounts (lowest id first, so two
// transfers between the same accounts in opposite directions cannot
// deadlock) and does all of it while holding them.
//
// By default the accounts are in memory and the locks are a lock.Locker key
// per account; no servers are needed. With -db the accounts are a table of
// PostgreSQL or MariaDB, locked with SELECT ... FOR UPDATE in id order
// (sqllock.LockIDs) in a transaction retried on deadlock (sqllock.WithTx).
//
//	go run ./examples/banking
//	go run ./examples/banking -db postgres -postgres "$RACEFREE_POSTGRES_DSN"
//	go run ./examples/banking -lock etcd     # any Locker as the account lock
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

var program = workload.Program{Name: "banking", Setup: setup}

// config is one run of the workload.
type config struct {
	transfers int           // concurrent transfers
	accounts  int           // accounts
	balance   int           // opening balance of each account
	think     time.Duration // time between reading balances and writing them
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.transfers, "transfers", 300, "concurrent transfers")
	fs.IntVar(&cfg.accounts, "accounts", 10, "accounts")
	fs.IntVar(&cfg.balance, "balance", 500, "opening balance of each account")
	fs.DurationVar(&cfg.think, "think", time.Millisecond, "time between reading the balances and writing them")
	backends := backend.Register(fs, backend.Memory, "")
	backends.RegisterDB(fs)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.transfers < 1 || cfg.accounts < 2 || cfg.balance < 1 || cfg.think < 0 {
			return nil, workload.Usagef("need -transfers and -balance of at least 1, -accounts of at least 2 and -think of 0 or more (got %d, %d, %d, %v)",
				cfg.transfers, cfg.accounts, cfg.balance, cfg.think)
		}
		header := fmt.Sprintf("%d transfers between %d accounts of %d each, %v between reading and writing", cfg.transfers, cfg.accounts, cfg.balance, cfg.think)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return b.RowLocked("locks",
				func(l lock.Locker) func(context.Context) (workload.Report, error) {
					return cfg.run(newMemoryBank(cfg, l))
				},
				func(protected bool) func(context.Context) (workload.Report, error) {
					return cfg.run(newSQLBank(cfg, b, protected))
				})
		})
	}
}
