package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

// tally counts what happened to the stalled payments of one run.
type tally struct {
	stalled   atomic.Int64 // payments that hung
	lost      atomic.Int64 // holds that ended while their payment hung
	staleRefs atomic.Int64 // late confirmations the seat map refused
}

// book is one passenger's attempt at one seat under some strategy.
type book func(ctx context.Context, seats *seatMap, t *tally, keys string, seat, passenger int, rec *workload.Recorder) error

// run lets every passenger try for a seat at once, passenger p for seat
// p mod seats, so that every seat is wanted by several of them.
func (cfg config) run(b book) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		seats, t, keys := newSeatMap(), &tally{}, workload.Namespace("airline")
		r, err := workload.Run(ctx, cfg.passengers, func(ctx context.Context, passenger int, rec *workload.Recorder) error {
			return b(ctx, seats, t, keys, passenger%cfg.seats, passenger, rec)
		})
		r.Violation, r.Violations = "oversold", seats.sold.Doubles()
		r.Note = fmt.Sprintf("%d payments hung: %d holds expired, %d late confirmations refused", t.stalled.Load(), t.lost.Load(), t.staleRefs.Load())
		return r, err
	}
}

// pay is the payment: normal, or hung on the stalled seats' first payer. A
// hung payment ignores ctx, as a stuck gateway call or a long GC pause would.
func (cfg config) pay(ctx context.Context, seats *seatMap, t *tally, seat int) error {
	if seat < cfg.stalled && seats.firstVisit(seat) {
		t.stalled.Add(1)
		time.Sleep(cfg.stall)
		return nil
	}
	select {
	case <-time.After(cfg.payment):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// unprotected checks the seat, pays and confirms with no hold: two passengers
// who check before either confirms are both sold the seat, and a payment that
// hangs for minutes still confirms when it comes back.
func (cfg config) unprotected(ctx context.Context, seats *seatMap, t *tally, _ string, seat, passenger int, rec *workload.Recorder) error {
	if free, _ := seats.available(seat, 0); !free {
		rec.Refused()
		return nil
	}
	if err := cfg.pay(ctx, seats, t, seat); err != nil {
		return err
	}
	if err := seats.confirm(seat, passenger, 0); err != nil {
		return err
	}
	rec.OK()
	return nil
}

// withHold holds the seat under a lock while paying (lock.Do). The lease is
// renewed in the background every third of the TTL, for at most cfg.hold: a
// payment that hangs longer loses the hold, the context Do handed it is
// cancelled, and the seat goes to the next passenger. The seat map sees every
// holder's fencing token (lock.LeaseFrom), so the hung payer, even if it
// wakes up and tries to confirm, is refused.
func (cfg config) withHold(locker lock.Locker) book {
	return func(ctx context.Context, seats *seatMap, t *tally, keys string, seat, passenger int, rec *workload.Recorder) error {
		key, asked := keys+"-seat-"+strconv.Itoa(seat), time.Now()
		var outcome error // what the seat map said, apart from the hold's fate
		err := lock.Do(ctx, locker, key, func(held context.Context) (err error) {
			defer func() { outcome = err }()
			rec.Since(asked)
			lease, _ := lock.LeaseFrom(held, key)
			if free, err := seats.available(seat, lease.Token()); err != nil || !free {
				return errors.Join(err, errSeatSold) // err cannot happen: a fresh lease has the newest token
			}
			if err := cfg.pay(held, seats, t, seat); err != nil {
				return fmt.Errorf("payment aborted: %w", err)
			}
			// A careful payer would check held.Err() here and give up; this
			// one confirms anyway, as a process frozen between its check and
			// its write would. Only the fencing token stops it.
			return seats.confirm(seat, passenger, lease.Token())
		}, lock.WithTTL(cfg.ttl), lock.WithMaxHold(cfg.hold))
		if errors.Is(err, lock.ErrLost) {
			// Do reports that the hold ended before the payer returned. If
			// nobody took the seat meanwhile the late confirmation went
			// through, which sells the seat once: the outcome decides.
			t.lost.Add(1)
			err = outcome
		}
		if errors.Is(err, errStaleToken) {
			t.staleRefs.Add(1)
			err = errSeatSold
		}
		return rec.Tally(err, errSeatSold)
	}
}
