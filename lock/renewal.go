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
// sets the timer for the next of the two. While a renewal is in flight the
// timer is set for the deadline alone, so Done closes on time however long
// the renewal takes (a slow backend, or a caller's Refresh holding the grant);
// a tick that fires meanwhile only checks the deadline.
func (l *lease) tick() {
	l.mu.Lock()
	now := time.Now()
	l.checkDeadlineLocked(now)
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	if l.cancelRenewal != nil || !l.renewing(now) || now.Before(l.nextRenewalLocked()) {
		l.timer.Reset(l.nextWakeLocked(now))
		l.mu.Unlock()
		return
	}
	l.ticks.Add(1) // under mu while held: Release's wait cannot have begun
	defer l.ticks.Done()
	// The end of the lease, at the deadline at the latest, stops the renewal.
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelRenewal = cancel
	l.timer.Reset(l.nextWakeLocked(now))
	l.mu.Unlock()

	err := l.refresh(ctx, 0, true)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelRenewal = nil
	cancel()
	if l.err != nil {
		return
	}
	if err != nil {
		// Try again soon; the lease ends at its deadline if no retry works.
		l.retryAt = time.Now().Add(max(l.ttl/30, time.Millisecond))
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

// nextWakeLocked is how long from now tick should next run: at the next
// renewal or the deadline, or only the deadline while a renewal is in flight.
func (l *lease) nextWakeLocked(now time.Time) time.Duration {
	wake := l.deadline
	if next := l.nextRenewalLocked(); l.cancelRenewal == nil && l.renewing(now) && next.Before(wake) {
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
