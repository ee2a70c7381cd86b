package lock

import (
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultTTL is the lease time-to-live when no WithTTL option is given.
const DefaultTTL = 30 * time.Second

// Option tunes one Acquire, TryAcquire or Do call, or, given to New, the defaults
// of a Locker.
type Option func(*config)

// config is the resolved set of options of one acquisition.
type config struct {
	ttl            time.Duration
	margin         time.Duration // zero: derived from the TTL, see marginFor
	autoRefresh    bool
	maxHold        time.Duration // zero: unbounded
	newBackOff     func() backoff.BackOff
	backOffGiven   bool // newBackOff is the caller's (WithBackOff), checked by validate
	requireFencing bool
}

func defaultConfig() config {
	return config{ttl: DefaultTTL, autoRefresh: true, newBackOff: DefaultBackOff}
}

// WithTTL sets how long the backend keeps the grant without a refresh.
// Default DefaultTTL. Backends declare a minimum in Properties.MinTTL.
func WithTTL(ttl time.Duration) Option { return func(c *config) { c.ttl = ttl } }

// WithSafetyMargin sets how long before the server-side expiry the lease is
// considered lost locally (Done closes, Err reports ErrLost). It must cover the
// clock drift between this process and the server plus the time a holder needs
// to stop writing. Default: a tenth of the TTL, at least 1 ms.
func WithSafetyMargin(d time.Duration) Option { return func(c *config) { c.margin = d } }

// WithoutAutoRefresh turns off background renewal: the lease then ends a safety
// margin before its TTL runs out unless the holder calls Refresh.
func WithoutAutoRefresh() Option { return func(c *config) { c.autoRefresh = false } }

// WithMaxHold bounds auto-refresh: once the lease has been held for d, renewal
// stops and the lease ends at its TTL with ErrLost wrapping ErrMaxHold. It guards
// against a holder that hangs while its lease is renewed for ever.
func WithMaxHold(d time.Duration) Option { return func(c *config) { c.maxHold = d } }

// WithBackOff sets the strategy between attempts of a backend that has to poll
// while it waits for a key. newBackOff is called once per Acquire (and once
// more by every call, to check that it returns a policy: one that returns
// nil is an error wrapping ErrInvalidOption), so the strategy may keep
// state. Notification-driven backends poll only as a safety
// net against lost notifications and expiries. Backends that queue waiters
// themselves (those implementing Waiter) are handed it through BackOffFrom
// (or BackOffOrDefault):
// caslock polls with it, and etcdlock paces with it its retries after
// errors that pass by themselves (no leader, a timeout); those that their
// server wakes (the in-memory backend, etcdlock, zklock, redlock, sqllock's
// PostgreSQL lease table) keep their own options for any safety-net poll.
func WithBackOff(newBackOff func() backoff.BackOff) Option {
	return func(c *config) { c.newBackOff, c.backOffGiven = newBackOff, true }
}

// RequireFencing makes Acquire and TryAcquire fail with ErrFencingUnsupported on
// a backend whose tokens are not fencing tokens.
func RequireFencing() Option { return func(c *config) { c.requireFencing = true } }

// DefaultBackOff is the polling strategy used when no WithBackOff is given:
// jittered exponential backoff from 5 ms to 500 ms.
func DefaultBackOff() backoff.BackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     5 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         500 * time.Millisecond,
	}
}

// resolve applies defaults then opts, and checks the result against props.
func resolve(props Properties, defaults, opts []Option) (config, error) {
	c := defaultConfig()
	for _, set := range [...][]Option{defaults, opts} {
		for _, o := range set {
			if o == nil {
				return config{}, fmt.Errorf("%w: nil Option", ErrInvalidOption)
			}
			o(&c)
		}
	}
	return c, c.validate(props)
}

func (c config) validate(props Properties) error {
	switch {
	case c.ttl <= 0:
		return fmt.Errorf("%w: TTL %v must be positive", ErrInvalidOption, c.ttl)
	case c.ttl < props.MinTTL:
		return fmt.Errorf("%w: TTL %v is below this backend's minimum %v", ErrInvalidOption, c.ttl, props.MinTTL)
	case c.margin < 0 || c.marginFor(c.ttl) >= c.ttl:
		return fmt.Errorf("%w: safety margin %v must be at least zero and shorter than the TTL %v", ErrInvalidOption, c.margin, c.ttl)
	case c.maxHold < 0:
		return fmt.Errorf("%w: maximum hold time %v must not be negative", ErrInvalidOption, c.maxHold)
	case c.newBackOff == nil:
		return fmt.Errorf("%w: WithBackOff needs a non-nil constructor", ErrInvalidOption)
	case c.backOffGiven && c.newBackOff() == nil:
		// Checked once per call, and only for a constructor of the caller's.
		return fmt.Errorf("%w: the WithBackOff constructor returned no policy", ErrInvalidOption)
	case c.requireFencing && !props.Fencing:
		return fmt.Errorf("%w (%s)", ErrFencingUnsupported, props.Name)
	}
	return nil
}

// marginFor is the safety margin of a lease with the given TTL: the one set by
// WithSafetyMargin, else a tenth of the TTL, at least 1 ms (capped below ttl).
func (c config) marginFor(ttl time.Duration) time.Duration {
	if c.margin != 0 {
		return c.margin
	}
	return min(max(ttl/10, time.Millisecond), ttl/2)
}
