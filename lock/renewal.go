package lock

import (
	"context"
	"fmt"
	"time"
)

// A held lease needs no goroutine of its own: a timer runs tick at the next
// renewal or at the deadline, whichever comes first. Only grants that report
// their loss by themselves (LossReporter) get a goroutine that waits for it.

// tick renews the grant when it is time, ends the lease at its deadline, and
// sets the timer for the next of the two.
func (l *lease) tick() {
	l.mu.Lock()
	now := time.Now()
	l.checkDeadlineLocked(now)
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	if !l.renewing(now) || now.Before(l.nextRenewalLocked()) {
		l.timer.Reset(l.nextWakeLocked(now))
		l.mu.Unlock()
		return
	}
	l.ticks.Add(1) // under mu while held: Release's wait cannot have begun
	defer l.ticks.Done()
	ttl := l.ttl
	ctx, cancel := context.WithDeadline(context.Background(), l.deadline)
	l.cancelRenewal = cancel // the end of the lease stops the renewal
	l.mu.Unlock()

	err := l.refresh(ctx, ttl)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelRenewal = nil
	cancel()
	if l.err != nil {
		return
	}
	if err != nil {
		// Try again soon; the lease ends at its deadline if no retry works.
		l.retryAt = time.Now().Add(max(ttl/30, time.Millisecond))
	}
	l.timer.Reset(l.nextWakeLocked(time.Now()))
}

// nextRenewalLocked is when the grant is due for renewal: a third into its
// validity window (the TTL for most backends, less for Redlock's drift or a
// session-bound grant), or the retry time after a failed renewal.
func (l *lease) nextRenewalLocked() time.Time {
	next := l.refreshedAt.Add(l.expiry.Sub(l.refreshedAt) / 3)
	if l.retryAt.After(next) {
		next = l.retryAt
	}
	return next
}

// nextWakeLocked is how long from now tick should next run.
func (l *lease) nextWakeLocked(now time.Time) time.Duration {
	wake := l.deadline
	if next := l.nextRenewalLocked(); l.renewing(now) && next.Before(wake) {
		wake = next
	}
	return wake.Sub(now)
}

// watchLoss ends the lease when the backend reports the grant lost.
func (l *lease) watchLoss(r LossReporter) {
	defer close(l.watcher)
	select {
	case <-r.Lost():
		l.end(fmt.Errorf("%w: %w", ErrLost, r.LossCause()))
	case <-l.done:
	}
}

// wait returns once no renewal is in flight and the loss watcher, if any, has
// exited. The lease must have ended.
func (l *lease) wait() {
	l.ticks.Wait()
	if l.watcher != nil {
		<-l.watcher
	}
}

// renewing reports whether auto-refresh still applies at now.
func (l *lease) renewing(now time.Time) bool {
	return l.cfg.autoRefresh && (l.cfg.maxHold == 0 || now.Before(l.acquired.Add(l.cfg.maxHold)))
}
