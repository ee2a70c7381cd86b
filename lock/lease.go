package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/racefree/racefree/internal/workpool"
)

// lease is the Lease every Client returns: a backend grant plus the policy that
// tracks its deadline, renews it and reports its end.
type lease struct {
	key      string
	grant    Grant
	cfg      config
	minTTL   time.Duration
	acquired time.Time

	grantSem chan struct{} // one slot, taken while a Refresh or Release is on the wire for grant

	mu          sync.Mutex
	ttl         time.Duration
	refreshedAt time.Time // send time of the last successful grant or refresh
	expiry      time.Time // when the server may expire the grant
	deadline    time.Time // expiry less the safety margin
	err         error     // why the lease ended; nil while held
	done        chan struct{}

	cancelRenewal context.CancelFunc // stops the renewal in flight, if any, when the lease ends; nil without one
	cancelCall    context.CancelFunc // stops the grant's Refresh on the wire, if any, when the lease ends
	timer         *time.Timer        // runs tick at the next renewal or the deadline (only the deadline while a renewal is in flight)
	retryAt       time.Time          // after a failed renewal: when to try again
	ticks         sync.WaitGroup     // ticks past their first check; waited for by Release
	watcher       chan struct{}      // closed when the loss watcher has exited; nil without one
}

var _ Lease = (*lease)(nil)

// lossWatchers runs the loss watchers of the leases whose grants report
// their loss, on goroutines reused from lease to lease (a new goroutine per
// lease showed in the cost of every grant). Idle workers end soon.
var lossWatchers = workpool.New(50 * time.Millisecond)

// newLease wraps g, requested at sent and granted (its answer received) at
// granted: WithMaxHold counts from the grant, not from the start of a wait;
// the expiry counts from the request. minTTL is the backend's declared
// minimum, which Refresh checks.
func newLease(key string, g Grant, sent, granted time.Time, cfg config, minTTL time.Duration) *lease {
	l := &lease{
		key:         key,
		grant:       g,
		cfg:         cfg,
		minTTL:      minTTL,
		grantSem:    make(chan struct{}, 1),
		acquired:    granted,
		ttl:         cfg.ttl,
		refreshedAt: sent,
		expiry:      expiryOf(g, sent, cfg.ttl),
		done:        make(chan struct{}),
	}
	l.deadline = l.expiry.Add(-cfg.marginFor(cfg.ttl))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = time.AfterFunc(l.nextWakeLocked(time.Now()), l.tick)
	if r, ok := g.(LossReporter); ok {
		l.watcher = make(chan struct{})
		lossWatchers.Go(func() { l.watchLoss(r) })
	}
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
	if l.cancelRenewal != nil {
		l.cancelRenewal()
	}
	if l.cancelCall != nil {
		l.cancelCall()
	}
	if l.timer != nil {
		l.timer.Stop()
	}
}

func (l *lease) Refresh(ctx context.Context, ttl time.Duration) error {
	if err := l.checkTTL(ttl); err != nil {
		return err
	}
	if err := l.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotHeld, err)
	}
	return l.refresh(ctx, ttl, false)
}

func (l *lease) checkTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl < l.minTTL || l.cfg.marginFor(ttl) >= ttl {
		return fmt.Errorf("%w: TTL %v must be at least %v and longer than the safety margin %v", ErrInvalidOption, ttl, l.minTTL, l.cfg.marginFor(ttl))
	}
	return nil
}

// lockGrant takes the right to call the grant, waiting for a Refresh in
// flight no longer than ctx allows: a caller's Refresh stuck on a slow
// backend must not hold up a renewal past the lease's end. It returns ctx's
// error as it is.
func (l *lease) lockGrant(ctx context.Context) error {
	select {
	case l.grantSem <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.grantSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *lease) unlockGrant() { <-l.grantSem }

// refresh extends the grant to ttl, moves the deadline and sets the timer for
// the new one. A renewal (auto-refresh) extends it to the lease's TTL of the
// moment instead, which a caller's Refresh may have changed while the renewal
// waited for the grant, and is skipped if that Refresh has made it needless.
// A grant the backend no longer has ends the lease as lost.
//
// The end of the lease (its Release, say) cancels the call on the wire, which
// then returns an error wrapping ErrNotHeld.
func (l *lease) refresh(ctx context.Context, ttl time.Duration, renewal bool) error {
	if err := l.lockGrant(ctx); err != nil {
		return err
	}
	defer l.unlockGrant()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.mu.Lock()
	now := time.Now()
	l.checkDeadlineLocked(now)
	ended := l.err
	due := true
	if renewal {
		ttl = l.ttl
		// WithMaxHold may have run out while the renewal waited.
		due = l.renewing(now) && !now.Before(l.nextRenewalLocked())
	}
	if ended == nil && due {
		l.cancelCall = cancel
	}
	l.mu.Unlock()
	if ended != nil {
		return fmt.Errorf("%w: %w", ErrNotHeld, ended)
	}
	if !due {
		return nil
	}

	sent := time.Now()
	err := l.grant.Refresh(ctx, ttl)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancelCall = nil
	if err != nil {
		if l.err != nil {
			return fmt.Errorf("%w: %w", ErrNotHeld, l.err)
		}
		if errors.Is(err, ErrNotHeld) {
			l.endLocked(fmt.Errorf("%w: %w", ErrLost, err))
		}
		return fmt.Errorf("lock: refresh %q: %w", l.key, err)
	}
	now = time.Now()
	l.checkDeadlineLocked(now)
	if l.err != nil {
		return fmt.Errorf("%w: %w", ErrNotHeld, l.err)
	}
	l.ttl, l.refreshedAt = ttl, sent
	l.expiry = expiryOf(l.grant, sent, ttl)
	l.deadline = l.expiry.Add(-l.cfg.marginFor(ttl))
	// The timer was set for the old deadline or renewal time; a shorter TTL
	// brings both forward.
	l.timer.Reset(l.nextWakeLocked(now))
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.checkDeadlineLocked(time.Now())
	prev := l.err
	l.endLocked(ErrReleased)
	l.mu.Unlock()
	// A renewal in flight has been cancelled; it finishes while the release
	// is on the wire, and is waited for before returning so that nothing of
	// the lease outlives it.
	defer l.wait()

	if errors.Is(prev, ErrReleased) {
		return fmt.Errorf("%w: already released", ErrNotHeld)
	}
	// The end of the lease has cancelled the Refresh on the wire, if any: the
	// grant is free as soon as the backend gives up on it. The release is
	// then sent whatever the state of ctx, so that a session-bound grant (a
	// connection's advisory lock) is freed even by a Release whose ctx has
	// ended: its backend fails the call and drops the session.
	l.grantSem <- struct{}{}
	err := l.grant.Release(ctx)
	l.unlockGrant()
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
