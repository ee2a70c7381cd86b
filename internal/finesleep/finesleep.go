// Package finesleep waits for short durations with microsecond precision.
//
// Go's timers fire late when the process is otherwise idle: the runtime
// waits for them in epoll with a timeout in whole milliseconds, so on Linux
// a 100 µs time.Sleep takes about 1.05 ms, and 1.5 ms takes about 2.1 ms
// (measured on the project's development VM). A waiter that polls a store
// every few hundred microseconds would in fact poll every millisecond or
// two, and every hand-over would wait that long. On Linux, Sleep waits for
// short durations on a timerfd through the runtime's network poller
// instead, which wakes when the kernel's high-resolution timer fires; the
// goroutine is parked meanwhile, holding no thread. Elsewhere, and for
// longer waits, it uses a time.Timer.
package finesleep

import (
	"context"
	"time"
)

// Threshold is the longest wait Sleep makes with the fine timer; longer
// ones use a time.Timer, whose lateness then matters less.
const Threshold = 2 * time.Millisecond

// Sleep waits for d, or until ctx is done, in which case it returns ctx's
// error. It returns at once for d <= 0.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	if d < Threshold && fineSleep(ctx, d) {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
