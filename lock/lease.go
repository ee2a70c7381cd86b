package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// lease is the Lease every Client returns: a backend grant plus the policy that
// tracks its deadline, renews it and reports its end.
type lease struct {
	key      string
	grant    Grant
	cfg      config
	minTTL   time.Duration
	acquired time.Time

	grantMu sync.Mutex // serialises Refresh and Release calls on grant

	mu          sync.Mutex
	ttl         time.Duration
	refreshedAt time.Time // send time of the last successful grant or refresh
	expiry      time.Time // when the server may expire the grant
	deadline    time.Time // expiry less the safety margin
	err         error     // why the lease ended; nil while held
	done        chan struct{}

	stopCtx     context.Context // cancelled when the lease ends: stops the monitor
	stop        context.CancelFunc
	monitorDone chan struct{}
}

var _ Lease = (*lease)(nil)

func newLease(key string, g Grant, sent time.Time, cfg config, b Backend) *lease {
	l := &lease{
		key:         key,
		grant:       g,
		cfg:         cfg,
		minTTL:      b.Properties().MinTTL,
		acquired:    sent,
		ttl:         cfg.ttl,
		refreshedAt: sent,
		expiry:      expiryOf(g, sent, cfg.ttl),
		done:        make(chan struct{}),
		monitorDone: make(chan struct{}),
	}
	l.deadline = l.expiry.Add(-cfg.marginFor(cfg.ttl))
	l.stopCtx, l.stop = context.WithCancel(context.Background())
	go l.monitor()
	return l
}

// expiryOf is when the server may expire g, refreshed or granted at sent.
func expiryOf(g Grant, sent time.Time, ttl time.Duration) time.Time {
	if e, ok := g.(Expirer); ok {
		return e.Expiry()
	}
	return sent.Add(ttl)
}

func (l *lease) Key() string           { return l.key }
func (l *lease) Token() uint64         { return l.grant.Token() }
func (l *lease) Done() <-chan struct{} { return l.done }

func (l *lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checkDeadlineLocked(time.Now())
	return l.err
}

// checkDeadlineLocked ends the lease if its deadline has passed at now.
func (l *lease) checkDeadlineLocked(now time.Time) {
	if l.err == nil && !now.Before(l.deadline) {
		l.endLocked(l.expiredErr(now))
	}
}

func (l *lease) expiredErr(now time.Time) error {
	if l.cfg.autoRefresh && l.cfg.maxHold > 0 && !now.Before(l.acquired.Add(l.cfg.maxHold)) {
		return fmt.Errorf("%w: %w", ErrLost, ErrMaxHold)
	}
	return fmt.Errorf("%w: not refreshed within the safety margin before expiry", ErrLost)
}

func (l *lease) end(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked(err)
}

func (l *lease) endLocked(err error) {
	if l.err != nil {
		return
	}
	l.err = err
	close(l.done)
	l.stop()
}

func (l *lease) Refresh(ctx context.Context, ttl time.Duration) error {
	if err := l.checkTTL(ttl); err != nil {
		return err
	}
	if err := l.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotHeld, err)
	}
	return l.refresh(ctx, ttl)
}

func (l *lease) checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl < l.minTTL || l.cfg.marginFor(ttl) >= ttl {
		return fmt.Errorf("%w: TTL %v must be at least %v and longer than the safety margin %v", ErrInvalidOption, ttl, l.minTTL, l.cfg.marginFor(ttl))
	}
	return nil
}

// refresh extends the grant and moves the deadline. A grant the backend no
// longer has ends the lease as lost.
func (l *lease) refresh(ctx context.Context, ttl time.Duration) error {
	l.grantMu.Lock()
	defer l.grantMu.Unlock()
	sent := time.Now()
	if err := l.grant.Refresh(ctx, ttl); err != nil {
		if errors.Is(err, ErrNotHeld) {
			l.end(fmt.Errorf("%w: %w", ErrLost, err))
		}
		return fmt.Errorf("lock: refresh %q: %w", l.key, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checkDeadlineLocked(time.Now())
	if l.err != nil {
		return fmt.Errorf("%w: %w", ErrNotHeld, l.err)
	}
	l.ttl, l.refreshedAt = ttl, sent
	l.expiry = expiryOf(l.grant, sent, ttl)
	l.deadline = l.expiry.Add(-l.cfg.marginFor(ttl))
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.checkDeadlineLocked(time.Now())
	prev := l.err
	l.endLocked(ErrReleased)
	l.mu.Unlock()
	// The monitor has been told to stop; it exits on its own while the
	// release is on the wire, and is waited for before returning so that no
	// goroutine outlives the lease.
	defer func() { <-l.monitorDone }()

	if errors.Is(prev, ErrReleased) {
		return fmt.Errorf("%w: already released", ErrNotHeld)
	}
	l.grantMu.Lock()
	err := l.grant.Release(ctx)
	l.grantMu.Unlock()
	if prev != nil {
		// Lost locally; the release above only cleaned up a grant the server
		// may still have kept for the safety margin.
		return fmt.Errorf("%w: %w", ErrNotHeld, prev)
	}
	if err != nil {
		return fmt.Errorf("lock: release %q: %w", l.key, err)
	}
	return nil
}

// monitor closes Done at the deadline, renews the grant when auto-refresh is
// on, and ends the lease when the backend reports it lost.
func (l *lease) monitor() {
	defer close(l.monitorDone)
	var lost <-chan struct{}
	reporter, _ := l.grant.(LossReporter)
	if reporter != nil {
		lost = reporter.Lost()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var retryAt time.Time // after a failed renewal: when to try again
	for {
		l.mu.Lock()
		deadline, ttl, refreshedAt, expiry := l.deadline, l.ttl, l.refreshedAt, l.expiry
		l.mu.Unlock()

		now := time.Now()
		wake := deadline
		renew := l.renewing(now)
		// Renew a third of the way through the validity window: the TTL for
		// most backends, less for Redlock (drift) or session-bound grants.
		nextRenewal := refreshedAt.Add(expiry.Sub(refreshedAt) / 3)
		if retryAt.After(nextRenewal) {
			nextRenewal = retryAt
		}
		if renew && nextRenewal.Before(wake) {
			wake = nextRenewal
		}
		timer.Reset(time.Until(wake))
		select {
		case <-l.stopCtx.Done():
			return
		case <-lost:
			l.end(fmt.Errorf("%w: %w", ErrLost, reporter.LossCause()))
			return
		case <-timer.C:
		}
		if l.Err() != nil {
			return
		}
		if renew && !time.Now().Before(nextRenewal) {
			ctx, cancel := context.WithDeadline(l.stopCtx, deadline)
			err := l.refresh(ctx, ttl)
			cancel()
			if err != nil {
				// Try again soon; Err ends the lease once the deadline passes.
				retryAt = time.Now().Add(max(ttl/30, time.Millisecond))
			}
		}
	}
}

// renewing reports whether auto-refresh still applies at now.
func (l *lease) renewing(now time.Time) bool {
	return l.cfg.autoRefresh && (l.cfg.maxHold == 0 || now.Before(l.acquired.Add(l.cfg.maxHold)))
}
