package main

import (
	"context"
	"strconv"
	"time"

	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

// memoryBank keeps the balances in memory. Each read and write of an
// account is atomic on its own, like a single SQL statement; what races is
// the transfer around them. With a Locker, a transfer locks both accounts,
// lowest id first, as SELECT ... FOR UPDATE on both rows in id order does.
type memoryBank struct {
	cfg    config
	locker lock.Locker // nil: unprotected
	keys   string
	rows   *workload.Rows // account -> balance
}

func newMemoryBank(cfg config, locker lock.Locker) func() bank {
	return func() bank {
		return &memoryBank{cfg: cfg, locker: locker, keys: workload.Namespace("banking")}
	}
}

func (b *memoryBank) open(context.Context) error {
	b.rows = workload.NewRows(b.cfg.accounts, b.cfg.balance)
	return nil
}

func (b *memoryBank) close(context.Context) error { return nil }

func (b *memoryBank) balances(context.Context) ([]int, error) { return b.rows.All(), nil }

func (b *memoryBank) transfer(ctx context.Context, from, to, amount int, rec *workload.Recorder) error {
	if b.locker == nil {
		return b.move(ctx, from, to, amount)
	}
	keys := []string{b.keys + "-account-" + strconv.Itoa(from), b.keys + "-account-" + strconv.Itoa(to)}
	asked := time.Now()
	return lock.DoAll(ctx, b.locker, keys, func(ctx context.Context) error {
		rec.Since(asked)
		return b.move(ctx, from, to, amount)
	}, lock.WithTTL(10*time.Second))
}

// move checks the payer's balance, credits the payee by reading and writing
// back its balance, then debits the payer in one step, with a pause (a call
// to the ledger, to fraud checks) before each write. Two classic mistakes of
// an unprotected transfer are here: a credit that overwrites the writes made
// since its read (money created or destroyed), and a debit made on a balance
// check that has gone stale (an overdraft). Both are harmless while the two
// accounts are locked.
func (b *memoryBank) move(ctx context.Context, from, to, amount int) error {
	if b.rows.Get(from) < amount {
		return errInsufficientFunds
	}
	credited := b.rows.Get(to) + amount
	if err := b.pause(ctx); err != nil {
		return err
	}
	b.rows.Set(to, credited)
	if err := b.pause(ctx); err != nil {
		return err // in a database, the rollback would undo the credit
	}
	b.rows.Add(from, -amount) // one step, like UPDATE ... SET n = n - ?
	return nil
}

// pause waits half the think time and reports a lost lock: writing then
// could break the invariant.
func (b *memoryBank) pause(ctx context.Context) error {
	time.Sleep(b.cfg.think / 2)
	return ctx.Err()
}
