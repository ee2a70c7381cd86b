package main

import (
	"context"
	"strconv"
	"time"

	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

// memoryShop keeps the stock in memory, one row per item. Each read and
// write of a row is atomic on its own, like a single SQL statement; what
// races is the read, checkout, write sequence around them. With a Locker it
// locks the row around that sequence, as SELECT ... FOR UPDATE does.
type memoryShop struct {
	cfg    config
	locker lock.Locker // nil: unprotected
	keys   string
	rows   *workload.Rows // item -> units in stock
}

func newMemoryShop(cfg config, locker lock.Locker) func() shop {
	return func() shop {
		return &memoryShop{cfg: cfg, locker: locker, keys: workload.Namespace("flashsale")}
	}
}

func (s *memoryShop) open(context.Context) error {
	s.rows = workload.NewRows(s.cfg.items, s.cfg.stock)
	return nil
}

func (s *memoryShop) close(context.Context) error { return nil }

func (s *memoryShop) left(_ context.Context, item int) (int, error) { return s.rows.Get(item), nil }

func (s *memoryShop) buy(ctx context.Context, item int, rec *workload.Recorder) error {
	if s.locker == nil {
		return s.checkout(ctx, item)
	}
	asked := time.Now()
	return lock.Do(ctx, s.locker, s.keys+"-item-"+strconv.Itoa(item), func(ctx context.Context) error {
		rec.Since(asked)
		return s.checkout(ctx, item)
	})
}

// checkout reads the stock, takes the time to check out and writes it back
// one lower.
func (s *memoryShop) checkout(ctx context.Context, item int) error {
	units := s.rows.Get(item)
	if units == 0 {
		return errSoldOut
	}
	time.Sleep(s.cfg.checkout)
	if err := ctx.Err(); err != nil {
		return err // the row lock was lost: writing now could oversell
	}
	s.rows.Set(item, units-1)
	return nil
}
