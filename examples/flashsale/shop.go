package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/racefree/racefree/examples/internal/workload"
)

var errSoldOut = errors.New("sold out")

// shop is where the units are kept: in memory, or in a database table.
type shop interface {
	// open puts the stock of every item on sale.
	open(ctx context.Context) error
	// buy sells one unit of item, or returns errSoldOut.
	buy(ctx context.Context, item int, rec *workload.Recorder) error
	// left returns the stock the shop says is left of item.
	left(ctx context.Context, item int) (int, error)
	// close throws the shop away.
	close(ctx context.Context) error
}

// run opens a shop, lets every buyer buy at once, and compares the units
// sold with the units there were.
func (cfg config) run(newShop func() shop) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		s := newShop()
		err := s.open(ctx)
		defer func() { _ = s.close(ctx) }()
		if err != nil {
			return workload.Report{}, err
		}
		var sold atomic.Int64
		r, err := workload.Run(ctx, cfg.buyers, func(ctx context.Context, buyer int, rec *workload.Recorder) error {
			err := s.buy(ctx, buyer%cfg.items, rec)
			if err == nil {
				sold.Add(1)
			}
			return rec.Tally(err, errSoldOut)
		})
		if err != nil {
			return r, err
		}
		left := 0
		for item := range cfg.items {
			n, err := s.left(ctx, item)
			if err != nil {
				return r, err
			}
			left += n
		}
		// Units sold beyond the stock, or units the stock count lost (a
		// sale it did not record): both are the race the locks prevent.
		had, n := cfg.items*cfg.stock, int(sold.Load())
		miscounted := n + left - had
		if miscounted < 0 {
			miscounted = -miscounted
		}
		r.Violation, r.Violations = "oversold/lost", max(n-had, miscounted)
		r.Note = fmt.Sprintf("%d units sold of %d, stock says %d left", sold.Load(), had, left)
		return r, nil
	}
}
