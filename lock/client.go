package lock

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
)

// Client is the Locker every adapter builds over its Backend: it validates
// input, waits (through the backend's own queue, or by retrying on
// notifications with a backoff poll as safety net) and wraps each grant in a
// lease that tracks its deadline and renews it.
type Client struct {
	backend  Backend
	props    Properties
	defaults []Option
	err      error // why every call fails: New was given no Backend
}

var _ Locker = (*Client)(nil)

// New returns a Locker over b. defaults apply to every call before the call's
// own options. Given a nil b, it returns a Locker whose every call fails with
// an error wrapping ErrInvalidOption.
func New(b Backend, defaults ...Option) *Client {
	if b == nil {
		return &Client{
			props: Properties{MaxKeyLen: DefaultMaxKeyLen},
			err:   fmt.Errorf("%w: lock.New needs a non-nil Backend", ErrInvalidOption),
		}
	}
	props := b.Properties()
	if props.MaxKeyLen == 0 {
		props.MaxKeyLen = DefaultMaxKeyLen
	}
	return &Client{backend: b, props: props, defaults: defaults}
}

// Properties returns the guarantees declared by the backend.
func (c *Client) Properties() Properties { return c.props }

// TryAcquire implements Locker.
func (c *Client) TryAcquire(ctx context.Context, key string, opts ...Option) (Lease, error) {
	cfg, err := c.prepare(key, opts)
	if err != nil {
		return nil, err
	}
	lease, err := c.try(ctx, key, cfg)
	if err != nil {
		return nil, c.wrap(ctx, "try-acquire", key, err)
	}
	return lease, nil
}

// Acquire implements Locker.
func (c *Client) Acquire(ctx context.Context, key string, opts ...Option) (Lease, error) {
	cfg, err := c.prepare(key, opts)
	if err != nil {
		return nil, err
	}
	if w, ok := c.backend.(Waiter); ok {
		wctx := context.WithValue(ctx, backOffKey{}, cfg.newBackOff)
		for {
			sent := time.Now()
			g, err := w.WaitGrant(wctx, key, cfg.ttl)
			if err != nil {
				return nil, c.wrap(ctx, "acquire", key, err)
			}
			if lease, err := c.hold(ctx, key, g, sent, cfg); !errors.Is(err, errLateGrant) {
				return lease, err
			}
		}
	}
	return c.poll(ctx, key, cfg)
}

// backOffKey is the context key of an Acquire call's backoff policy
// constructor.
type backOffKey struct{}

// BackOffFrom returns a new instance of the wait policy of the Acquire call
// whose context ctx is: the call's WithBackOff, or DefaultBackOff. A Waiter
// backend that polls while it waits takes its intervals from it, so that
// WithBackOff applies to it as to the backends the Client polls for. ok is
// false for a context that did not come from Acquire.
func BackOffFrom(ctx context.Context) (b backoff.BackOff, ok bool) {
	newBackOff, ok := ctx.Value(backOffKey{}).(func() backoff.BackOff)
	if !ok {
		return nil, false
	}
	if b = newBackOff(); b == nil {
		// The constructor gave a policy to the call's check (config.validate)
		// and none now.
		b = DefaultBackOff()
	}
	return b, true
}

// BackOffOrDefault is BackOffFrom, or DefaultBackOff for a context that
// did not come from Acquire, reset and ready to use: the policy a Waiter
// backend paces its waits or retries with.
func BackOffOrDefault(ctx context.Context) backoff.BackOff {
	b, ok := BackOffFrom(ctx)
	if !ok {
		b = DefaultBackOff()
	}
	b.Reset()
	return b
}

// errLateGrant is wrapped in the ErrNotAcquired of a grant whose answer came
// back after its lease deadline.
var errLateGrant = errors.New("the grant's answer came after its lease deadline")

// lateGrantTimeout bounds giving a late grant back.
const lateGrantTimeout = time.Second

// hold wraps g in a lease, unless g's answer came back after the lease's
// deadline (the round trip took longer than the TTL less the safety margin):
// such a grant is given back and the attempt fails with ErrNotAcquired. Its
// holder never held it while the lock was safely its, and the backend may
// have granted the key to another caller since.
func (c *Client) hold(ctx context.Context, key string, g Grant, sent time.Time, cfg config) (Lease, error) {
	deadline := expiryOf(g, sent, cfg.ttl).Add(-cfg.marginFor(cfg.ttl))
	if now := time.Now(); now.Before(deadline) {
		return newLease(key, g, sent, now, cfg, c.props.MinTTL), nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lateGrantTimeout)
	defer cancel()
	_ = g.Release(rctx)
	return nil, fmt.Errorf("%w: %w", ErrNotAcquired, errLateGrant)
}

// poll retries TryGrant until it succeeds, waking on notifications where the
// backend gives them and on a backoff timer otherwise. The first attempt
// comes before any subscription, so an uncontended Acquire costs what
// TryAcquire does.
func (c *Client) poll(ctx context.Context, key string, cfg config) (Lease, error) {
	lease, err := c.try(ctx, key, cfg)
	if err == nil {
		return lease, nil
	}
	if !errors.Is(err, ErrNotAcquired) {
		return nil, c.wrap(ctx, "acquire", key, err)
	}
	// Subscribe, then try again before the first wait: a release between the
	// failed attempt and the subscription would otherwise go unheard.
	var ready <-chan struct{}
	if n, ok := c.backend.(Notifier); ok {
		ch, stop, err := n.Subscribe(ctx, key)
		if err != nil {
			return nil, c.wrap(ctx, "acquire", key, err)
		}
		defer stop()
		ready = ch
	}
	b := cfg.newBackOff()
	if b == nil {
		b = DefaultBackOff() // as in BackOffFrom
	}
	b.Reset()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		lease, err := c.try(ctx, key, cfg)
		if err == nil {
			return lease, nil
		}
		if !errors.Is(err, ErrNotAcquired) {
			return nil, c.wrap(ctx, "acquire", key, err)
		}
		next := b.NextBackOff()
		if next == backoff.Stop {
			return nil, c.wrap(ctx, "acquire", key, err)
		}
		if timer == nil {
			timer = time.NewTimer(next)
		} else {
			timer.Reset(next)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ready:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// try makes one TryGrant attempt and wraps its grant in a lease.
func (c *Client) try(ctx context.Context, key string, cfg config) (Lease, error) {
	sent := time.Now()
	g, err := c.backend.TryGrant(ctx, key, cfg.ttl)
	if err != nil {
		return nil, err
	}
	return c.hold(ctx, key, g, sent, cfg)
}

// prepare validates key and resolves the options of one call.
func (c *Client) prepare(key string, opts []Option) (config, error) {
	if c.err != nil {
		return config{}, c.err
	}
	if err := c.validateKey(key); err != nil {
		return config{}, err
	}
	return resolve(c.props, c.defaults, opts)
}

func (c *Client) validateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > c.props.MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds the %s limit of %d", ErrInvalidKey, len(key), c.props.Name, c.props.MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	}
	if v, ok := c.backend.(KeyValidator); ok {
		return v.ValidateKey(key)
	}
	return nil
}

// wrap adds the operation and key to a backend error. When the caller's
// context is done, its error is returned as it is, so callers can compare it.
func (c *Client) wrap(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctxErr
	}
	return fmt.Errorf("%s %s %q: %w", c.props.Name, op, key, err)
}
