package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/occ"
)

// book is one symbol's order book: the shares still offered and what has
// been sold from it.
type book struct {
	Ask    int `json:"ask"`    // shares still offered
	Sold   int `json:"sold"`   // shares sold
	Trades int `json:"trades"` // orders filled
}

var errNoLiquidity = errors.New("no shares left to buy")

// buy matches an order for qty shares against b.
func buy(qty int) func(b book) (book, error) {
	return func(b book) (book, error) {
		if b.Ask == 0 {
			return b, errNoLiquidity
		}
		fill := min(qty, b.Ask)
		b.Ask -= fill
		b.Sold += fill
		b.Trades++
		return b, nil
	}
}

// market is the workload over one Store.
type market struct {
	cfg   config
	store cas.Store
}

// order places one buy order under some strategy.
type order func(ctx context.Context, rmw workload.ReadModifyWrite[book], key string, qty int, rec *workload.Recorder) error

// run opens the books, lets every trader place an order at once, and
// compares the fills the traders were told about with what the books
// recorded.
func (m market) run(place order) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		books, err := workload.NewItems(ctx, m.store, "trading", m.cfg.symbols, book{Ask: m.cfg.shares}, m.cfg.match)
		if err != nil {
			return workload.Report{}, err
		}
		var filled atomic.Int64 // orders whose trader was told "filled"
		r, err := workload.Run(ctx, m.cfg.traders, func(ctx context.Context, trader int, rec *workload.Recorder) error {
			err := place(ctx, books.RMW, books.Key(trader%m.cfg.symbols), 1+trader%5, rec)
			if err == nil {
				filled.Add(1)
			}
			return rec.Tally(err, errNoLiquidity)
		})
		if err != nil {
			return r, err
		}
		all, err := books.All(ctx)
		if err != nil {
			return r, err
		}
		recorded, sold := 0, 0
		for _, b := range all {
			recorded += b.Trades
			sold += b.Sold
		}
		r.Violation, r.Violations = "lost updates", int(filled.Load())-recorded
		r.Note = fmt.Sprintf("books record %d fills, %d of %d shares sold", recorded, sold, m.cfg.symbols*m.cfg.shares)
		return r, nil
	}
}

// unprotected reads the book, matches and overwrites it.
func (m market) unprotected(ctx context.Context, rmw workload.ReadModifyWrite[book], key string, qty int, _ *workload.Recorder) error {
	return rmw.Unprotected(ctx, key, buy(qty))
}

// optimistic matches with a compare-and-swap on the version read, and
// matches again against the fresh book when another order got there first.
// Every conflict means another order on the book was written, so an order
// can lose at most once per other trader: that bounds its attempts.
func (m market) optimistic(ctx context.Context, rmw workload.ReadModifyWrite[book], key string, qty int, rec *workload.Recorder) error {
	return rmw.Optimistic(ctx, key, buy(qty), rec, occ.WithMaxAttempts(m.cfg.traders))
}
