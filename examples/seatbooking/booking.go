package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/occ"
)

// config is one run of the workload.
type config struct {
	buyers  int           // concurrent buyers
	seats   int           // seats on sale; every buyer wants one at random
	payment time.Duration // time between checking a seat and booking it
}

// result is what one strategy did.
type result struct {
	strategy     string
	confirmed    int           // bookings buyers were told succeeded
	doubleBooked int           // confirmations beyond the first for the same seat
	conflicts    int           // OCC: writes refused because the seat changed
	meanWait     time.Duration // lock: mean time from asking for the lock to holding it
	elapsed      time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%-12s confirmed %3d  double-booked %3d  conflicts %3d  mean lock wait %9v  took %v",
		r.strategy, r.confirmed, r.doubleBooked, r.conflicts, r.meanWait.Round(time.Microsecond), r.elapsed.Round(time.Millisecond))
}

// theatre is the shared seat map. Each read or write of a seat is atomic on its
// own; what races is the check-then-book sequence around them, as with any
// database read followed by a write.
type theatre struct {
	mu     sync.Mutex
	owner  map[int]int   // seat -> buyer; absent when free
	booked map[int][]int // seat -> every buyer told "booked"
}

func newTheatre() *theatre {
	return &theatre{owner: make(map[int]int), booked: make(map[int][]int)}
}

func (t *theatre) free(seat int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, taken := t.owner[seat]
	return !taken
}

func (t *theatre) book(seat, buyer int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.owner[seat] = buyer
	t.booked[seat] = append(t.booked[seat], buyer)
}

// tally counts confirmations and double bookings.
func (t *theatre) tally(r *result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, buyers := range t.booked {
		r.confirmed += len(buyers)
		r.doubleBooked += len(buyers) - 1
	}
}

// run lets cfg.buyers buyers try to book at once with one strategy.
func run(ctx context.Context, cfg config, name string, buy func(ctx context.Context, t *theatre, seat, buyer int, r *counters) error) (result, error) {
	t := newTheatre()
	var c counters
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.buyers)
	for buyer := range cfg.buyers {
		seat := rand.IntN(cfg.seats)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := buy(ctx, t, seat, buyer, &c); err != nil {
				errs <- fmt.Errorf("buyer %d, seat %d: %w", buyer, seat, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	r := result{
		strategy:  name,
		elapsed:   time.Since(start),
		conflicts: int(c.conflicts.Load()),
		meanWait:  time.Duration(c.lockWait.Load() / int64(cfg.buyers)),
	}
	t.tally(&r)
	return r, errors.Join(drain(errs)...)
}

type counters struct {
	conflicts atomic.Int64
	lockWait  atomic.Int64 // nanoseconds
}

func drain(errs <-chan error) []error {
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}

// unprotected checks the seat, pays, and books: two buyers who check the same
// free seat before either books it are both told they got it.
func unprotected(cfg config) func(context.Context, *theatre, int, int, *counters) error {
	return func(ctx context.Context, t *theatre, seat, buyer int, _ *counters) error {
		if !t.free(seat) {
			return nil
		}
		time.Sleep(cfg.payment)
		t.book(seat, buyer)
		return nil
	}
}

// withLock does the same under a lock on the seat, so check and book are one
// step for everyone else.
func withLock(cfg config, locker lock.Locker) func(context.Context, *theatre, int, int, *counters) error {
	return func(ctx context.Context, t *theatre, seat, buyer int, c *counters) error {
		asked := time.Now()
		return lock.Do(ctx, locker, fmt.Sprintf("seat:%d", seat), func(ctx context.Context) error {
			c.lockWait.Add(int64(time.Since(asked)))
			if !t.free(seat) {
				return nil
			}
			time.Sleep(cfg.payment)
			if err := ctx.Err(); err != nil {
				return err // the lease ended: booking now could double-book
			}
			t.book(seat, buyer)
			return nil
		}, lock.WithTTL(10*time.Second))
	}
}

// withOCC keeps each seat's owner in a versioned store: the booking is a
// compare-and-swap on the version the buyer saw free, so only one of the buyers
// who saw it free can win; the others get a conflict and learn the seat is gone.
func withOCC(cfg config, store cas.Store) func(context.Context, *theatre, int, int, *counters) error {
	return func(ctx context.Context, t *theatre, seat, buyer int, c *counters) error {
		key := fmt.Sprintf("seat:%d", seat)
		won := false
		_, stats, err := occ.Update(ctx, store, key, func(cur cas.Item) ([]byte, error) {
			if len(cur.Value) > 0 {
				return nil, errSeatTaken
			}
			time.Sleep(cfg.payment)
			won = true
			return fmt.Appendf(nil, "%d", buyer), nil
		}, occ.CreateIfMissing())
		c.conflicts.Add(int64(stats.Conflicts))
		switch {
		case errors.Is(err, errSeatTaken):
			return nil
		case err != nil:
			return err
		case won:
			t.book(seat, buyer)
		}
		return nil
	}
}

var errSeatTaken = errors.New("seat already booked")
