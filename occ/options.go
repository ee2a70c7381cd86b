package occ

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultMaxAttempts is the number of read-modify-write attempts of an Update
// without WithMaxAttempts.
const DefaultMaxAttempts = 10

// ErrInvalidOption rejects an option value that cannot work: a nil Option,
// WithMaxAttempts below 1, a nil WithBackOff constructor or one that returns
// a nil BackOff.
var ErrInvalidOption = errors.New("occ: invalid option")

// Option tunes one Update.
type Option func(*config)

type config struct {
	maxAttempts int
	newBackOff  func() backoff.BackOff
	create      bool
}

// WithMaxAttempts bounds the attempts of one Update, the first included:
// after n conflicts Update gives up with ErrTooManyConflicts. n must be at
// least 1. Default DefaultMaxAttempts.
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithBackOff sets the wait between attempts. newBackOff is called once per
// Update that meets a conflict, so the strategy may keep state; a BackOff that
// returns backoff.Stop ends the Update with ErrTooManyConflicts; a nil
// BackOff ends it with an error wrapping ErrInvalidOption. Default
// DefaultBackOff.
func WithBackOff(newBackOff func() backoff.BackOff) Option {
	return func(c *config) { c.newBackOff = newBackOff }
}

// CreateIfMissing makes Update create a key that does not exist: fn is then
// called with an Item whose Version is 0 and Value is nil, and its result is
// written with Create. Without it, Update of a missing key returns an error
// wrapping cas.ErrNotFound.
func CreateIfMissing() Option { return func(c *config) { c.create = true } }

// DefaultBackOff is the wait between attempts without WithBackOff: jittered
// exponential backoff from 2 ms, doubling, up to 200 ms, each wait drawn at
// random within ±50 % so that writers who collided do not collide again.
func DefaultBackOff() backoff.BackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     2 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         200 * time.Millisecond,
	}
}

func resolve(opts []Option) (config, error) {
	c := config{maxAttempts: DefaultMaxAttempts, newBackOff: DefaultBackOff}
	for i, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i+1)
		}
		o(&c)
	}
	switch {
	case c.maxAttempts < 1:
		return c, fmt.Errorf("%w: maximum attempts %d must be at least 1", ErrInvalidOption, c.maxAttempts)
	case c.newBackOff == nil:
		return c, fmt.Errorf("%w: WithBackOff needs a non-nil constructor", ErrInvalidOption)
	}
	return c, nil
}
