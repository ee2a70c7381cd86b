package main

import (
	"context"
	"strconv"
	"sync"
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

	mu   sync.Mutex
	rows map[int]int // item -> units in stock
}

func newMemoryShop(cfg config, locker lock.Locker) func() shop {
	return func() shop {
		return &memoryShop{cfg: cfg, locker: locker, keys: workload.Namespace("flashsale"), rows: make(map[int]int)}
	}
}

func (s *memoryShop) open(context.Context) error {
	for item := range s.cfg.items {
		s.write(item, s.cfg.stock)
	}
	return nil
}

func (s *memoryShop) close(context.Context) error { return nil }

func (s *memoryShop) read(item int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[item]
}

func (s *memoryShop) write(item, units int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[item] = units
}

func (s *memoryShop) left(_ context.Context, item int) (int, error) { return s.read(item), nil }

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
	units := s.read(item)
	if units == 0 {
		return errSoldOut
	}
	time.Sleep(s.cfg.checkout)
	if err := ctx.Err(); err != nil {
		return err // the row lock was lost: writing now could oversell
	}
	s.write(item, units-1)
	return nil
}
