package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxErrors bounds the worker errors a run reports: the first few tell the
// story, hundreds of copies do not.
const maxErrors = 5

// Run starts workers goroutines at the same instant, each calling work with
// its number, waits for all of them, and reports what they recorded. An error
// returned by work is a failure of the run (a backend error), not a business
// refusal: workers count those with Recorder.Refused and return nil.
func Run(ctx context.Context, workers int, work func(ctx context.Context, worker int, rec *Recorder) error) (Report, error) {
	if workers < 1 {
		return Report{}, fmt.Errorf("%w: need at least one worker, got %d", ErrUsage, workers)
	}
	var (
		rec   Recorder
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		errs  []error
		nerr  int
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			if err := work(ctx, w, &rec); err != nil {
				mu.Lock()
				if nerr++; nerr <= maxErrors {
					errs = append(errs, fmt.Errorf("worker %d: %w", w, err))
				}
				mu.Unlock()
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	r := rec.report(time.Since(began))
	if nerr > maxErrors {
		errs = append(errs, fmt.Errorf("and %d more errors", nerr-maxErrors))
	}
	return r, errors.Join(errs...)
}

func (r *Recorder) report(elapsed time.Duration) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Report{
		OK:        int(r.ok.Load()),
		Refused:   int(r.refused.Load()),
		Conflicts: int(r.conflicts.Load()),
		Retries:   int(r.retries.Load()),
		Waits:     summarize(r.waits),
		Elapsed:   elapsed,
	}
}
