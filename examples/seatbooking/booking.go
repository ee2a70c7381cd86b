package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/occ"
)

// buy is one buyer's attempt at one seat, under some strategy. keys is the
// namespace of this run's keys in a shared backend.
type buy func(ctx context.Context, theatre *workload.Claims, keys string, seat, buyer int, rec *workload.Recorder) error

// run lets cfg.buyers buyers try to book at once, each a random seat, and
// counts the seats promised twice.
func (cfg config) run(b buy) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		theatre := workload.NewClaims()
		keys := workload.Namespace("seatbooking")
		r, err := workload.Run(ctx, cfg.buyers, func(ctx context.Context, buyer int, rec *workload.Recorder) error {
			return b(ctx, theatre, keys, rand.IntN(cfg.seats), buyer, rec)
		})
		r.Violation, r.Violations = "double-booked", theatre.Doubles()
		return r, err
	}
}

// unprotected checks the seat, pays, and books: two buyers who check the same
// free seat before either books it are both told they got it.
func unprotected(cfg config) buy {
	return func(ctx context.Context, theatre *workload.Claims, _ string, seat, buyer int, rec *workload.Recorder) error {
		if !theatre.Free(seat) {
			rec.Refused()
			return nil
		}
		time.Sleep(cfg.payment)
		theatre.Claim(seat, buyer)
		rec.OK()
		return nil
	}
}

// withLock does the same under a lock on the seat, so check and book are one
// step for everyone else.
func withLock(cfg config, locker lock.Locker) buy {
	return func(ctx context.Context, theatre *workload.Claims, keys string, seat, buyer int, rec *workload.Recorder) error {
		asked := time.Now()
		return lock.Do(ctx, locker, keys+"-seat-"+strconv.Itoa(seat), func(ctx context.Context) error {
			rec.Since(asked)
			if !theatre.Free(seat) {
				rec.Refused()
				return nil
			}
			time.Sleep(cfg.payment)
			if err := ctx.Err(); err != nil {
				return err // the lease ended: booking now could double-book
			}
			theatre.Claim(seat, buyer)
			rec.OK()
			return nil
		}, lock.WithTTL(10*time.Second))
	}
}

// withOCC keeps each seat's owner in a versioned store: the booking is a
// compare-and-swap on the version the buyer saw free, so only one of the buyers
// who saw it free can win; the others get a conflict, read again and learn the
// seat is gone.
func withOCC(cfg config, store cas.Store) buy {
	return func(ctx context.Context, theatre *workload.Claims, keys string, seat, buyer int, rec *workload.Recorder) error {
		_, stats, err := occ.Update(ctx, store, keys+"-seat-"+strconv.Itoa(seat), func(cur cas.Item) ([]byte, error) {
			if len(cur.Value) > 0 {
				return nil, errSeatTaken
			}
			time.Sleep(cfg.payment)
			return strconv.AppendInt(nil, int64(buyer), 10), nil
		}, occ.CreateIfMissing())
		rec.Conflicts(stats.Conflicts)
		if stats.Waited > 0 {
			rec.Wait(stats.Waited)
		}
		switch {
		case errors.Is(err, errSeatTaken):
			rec.Refused()
			return nil
		case err != nil:
			return fmt.Errorf("seat %d: %w", seat, err)
		}
		theatre.Claim(seat, buyer)
		rec.OK()
		return nil
	}
}

var errSeatTaken = errors.New("seat already booked")
