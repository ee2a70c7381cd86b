package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

// accept is one driver accepting one ride under some strategy. It returns
// errTaken when the ride went to another driver.
type accept func(ctx context.Context, assigned *workload.Claims, keys string, ride, driver int, rec *workload.Recorder) error

var errTaken = errors.New("ride already taken")

// run lets every driver accept a ride at once and counts the rides given to
// more than one driver.
func (cfg config) run(a accept) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		assigned, keys := workload.NewClaims(), workload.Namespace("ridehailing")
		r, err := workload.Run(ctx, cfg.drivers, func(ctx context.Context, driver int, rec *workload.Recorder) error {
			return rec.Tally(a(ctx, assigned, keys, driver%cfg.rides, driver, rec), errTaken)
		})
		r.Violation, r.Violations = "double-assigned", assigned.Doubles()
		return r, err
	}
}

// unprotected looks at the ride and takes it if nobody has.
func unprotected(cfg config) accept {
	return func(_ context.Context, assigned *workload.Claims, _ string, ride, driver int, _ *workload.Recorder) error {
		if !assigned.Free(ride) {
			return errTaken
		}
		time.Sleep(cfg.accept)
		assigned.Claim(ride, driver)
		return nil
	}
}

// withLock tries the ride's lock once: the driver who gets it checks the
// ride and takes it; the others are told at once that it is taken rather
// than queue for a ride they will not get.
func withLock(cfg config, locker lock.Locker) accept {
	return func(ctx context.Context, assigned *workload.Claims, keys string, ride, driver int, rec *workload.Recorder) error {
		asked := time.Now()
		lease, err := locker.TryAcquire(ctx, keys+"-ride-"+strconv.Itoa(ride), lock.WithTTL(10*time.Second))
		rec.Since(asked)
		if errors.Is(err, lock.ErrNotAcquired) {
			return errTaken
		}
		if err != nil {
			return err
		}
		defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
		if !assigned.Free(ride) {
			return errTaken
		}
		time.Sleep(cfg.accept)
		if err := lease.Err(); err != nil {
			return err // the lock was lost: taking the ride now could double-assign
		}
		assigned.Claim(ride, driver)
		return nil
	}
}

// withCAS records the assignment with Create, which succeeds for exactly one
// driver: the store refuses to create an item that exists.
func withCAS(cfg config, store cas.Store) accept {
	return func(ctx context.Context, assigned *workload.Claims, keys string, ride, driver int, rec *workload.Recorder) error {
		time.Sleep(cfg.accept)
		_, err := store.Create(ctx, keys+"-ride-"+strconv.Itoa(ride), strconv.AppendInt(nil, int64(driver), 10))
		switch {
		case errors.Is(err, cas.ErrExists):
			rec.Conflicts(1)
			return errTaken
		case err != nil:
			return err
		}
		assigned.Claim(ride, driver)
		return nil
	}
}
