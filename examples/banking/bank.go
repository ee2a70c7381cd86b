package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/racefree/racefree/examples/internal/workload"
)

var errInsufficientFunds = errors.New("insufficient funds")

// bank is where the accounts are kept.
type bank interface {
	// open opens every account with the opening balance.
	open(ctx context.Context) error
	// transfer moves amount from one account to another, or returns
	// errInsufficientFunds.
	transfer(ctx context.Context, from, to, amount int, rec *workload.Recorder) error
	// balances returns every account's balance.
	balances(ctx context.Context) ([]int, error)
	// close throws the bank away.
	close(ctx context.Context) error
}

// transferOf is transfer t: a fixed pair of distinct accounts and amount,
// the same in every run.
func (cfg config) transferOf(t int) (from, to, amount int) {
	from = t % cfg.accounts
	to = (from + 1 + (t*7)%(cfg.accounts-1)) % cfg.accounts
	return from, to, 1 + (t*37)%cfg.balance
}

// run opens a bank, runs every transfer at once and checks the invariant.
func (cfg config) run(newBank func() bank) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		b := newBank()
		err := b.open(ctx)
		defer func() { _ = b.close(ctx) }()
		if err != nil {
			return workload.Report{}, err
		}
		r, err := workload.Run(ctx, cfg.transfers, func(ctx context.Context, t int, rec *workload.Recorder) error {
			from, to, amount := cfg.transferOf(t)
			return rec.Tally(b.transfer(ctx, from, to, amount, rec), errInsufficientFunds)
		})
		if err != nil {
			return r, err
		}
		balances, err := b.balances(ctx)
		if err != nil {
			return r, err
		}
		total, negative := 0, 0
		for _, bal := range balances {
			total += bal
			if bal < 0 {
				negative++
			}
		}
		opening := cfg.accounts * cfg.balance
		r.Violation, r.Violations = "invariant breaks", negative
		if total != opening {
			r.Violations++
		}
		r.Note = fmt.Sprintf("money %d -> %d (%+d), %d negative balances", opening, total, total-opening, negative)
		return r, nil
	}
}
