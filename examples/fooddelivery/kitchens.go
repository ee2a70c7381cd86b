package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/occ"
)

// counter is a restaurant's count of open orders.
type counter struct {
	Open int `json:"open"`
}

var errFull = errors.New("the kitchen is at capacity")

// take accepts one more order if the kitchen has room.
func take(capacity int) func(c counter) (counter, error) {
	return func(c counter) (counter, error) {
		if c.Open >= capacity {
			return c, errFull
		}
		c.Open++
		return c, nil
	}
}

// kitchens is the workload over one Store.
type kitchens struct {
	cfg   config
	store cas.Store
}

// run sends every order at once, with or without compare-and-swap, and
// compares the orders each restaurant accepted with its capacity and its
// counter.
func (k kitchens) run(protected bool) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		counters, err := workload.NewItems(ctx, k.store, "fooddelivery", k.cfg.restaurants, counter{}, k.cfg.check)
		if err != nil {
			return workload.Report{}, err
		}
		var mu sync.Mutex
		accepted := make([]int, k.cfg.restaurants)
		r, err := workload.Run(ctx, k.cfg.orders, func(ctx context.Context, order int, rec *workload.Recorder) error {
			restaurant := order % k.cfg.restaurants
			key, fn := counters.Key(restaurant), take(k.cfg.capacity)
			var err error
			if protected {
				// Every conflict means another order was counted: an order
				// can lose at most once per other order.
				err = counters.RMW.Optimistic(ctx, key, fn, rec, occ.WithMaxAttempts(k.cfg.orders))
			} else {
				err = counters.RMW.Unprotected(ctx, key, fn)
			}
			if err == nil {
				mu.Lock()
				accepted[restaurant]++
				mu.Unlock()
			}
			return rec.Tally(err, errFull)
		})
		if err != nil {
			return r, err
		}
		all, err := counters.All(ctx)
		if err != nil {
			return r, err
		}
		// Orders taken beyond a kitchen's capacity, and orders its counter
		// lost (or counts twice): both are the race the locks prevent.
		bad, counted := 0, 0
		for i, c := range all {
			miscounted := c.Open - accepted[i]
			if miscounted < 0 {
				miscounted = -miscounted
			}
			bad += max(accepted[i]-k.cfg.capacity, miscounted)
			counted += c.Open
		}
		r.Violation, r.Violations = "over capacity/lost", bad
		r.Note = fmt.Sprintf("kitchens took %d orders, counters say %d", r.OK, counted)
		return r, nil
	}
}
