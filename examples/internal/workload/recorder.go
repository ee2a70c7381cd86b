package workload

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder collects what the workers of one run did. It is safe for
// concurrent use.
type Recorder struct {
	ok        atomic.Int64
	refused   atomic.Int64
	conflicts atomic.Int64
	retries   atomic.Int64

	mu    sync.Mutex
	waits []time.Duration
}

// OK counts one operation that succeeded (a booking, an order, a transfer).
func (r *Recorder) OK() { r.ok.Add(1) }

// Refused counts one operation the business rules turned down (sold out,
// seat taken, insufficient funds): a correct answer, not a failure.
func (r *Recorder) Refused() { r.refused.Add(1) }

// Conflicts adds n writes that lost to a concurrent writer (a CAS conflict,
// an event-stream conflict).
func (r *Recorder) Conflicts(n int) { r.conflicts.Add(int64(n)) }

// Retries adds n operations redone after a transient failure (a deadlock, a
// lost lease, a duplicate command).
func (r *Recorder) Retries(n int) { r.retries.Add(int64(n)) }

// Wait records one wait: for a lock to be granted, or in backoff between
// optimistic attempts.
func (r *Recorder) Wait(d time.Duration) {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
}

// Since records the wait from start until now and returns now.
func (r *Recorder) Since(start time.Time) time.Time {
	now := time.Now()
	r.Wait(now.Sub(start))
	return now
}

// Tally records the outcome of one operation: nil is a success, an error
// wrapping one of refusals is a business refusal, and any other error is
// returned, for the worker to fail the run with.
func (r *Recorder) Tally(err error, refusals ...error) error {
	if err == nil {
		r.OK()
		return nil
	}
	for _, refusal := range refusals {
		if errors.Is(err, refusal) {
			r.Refused()
			return nil
		}
	}
	return err
}
