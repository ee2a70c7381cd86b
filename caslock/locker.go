package caslock

import (
	"errors"
	"fmt"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
)

// Locker is a lock.Locker on a cas.Store.
type Locker struct {
	*lock.Client
}

var _ lock.Locker = (*Locker)(nil)

// Option configures a Locker.
type Option func(*options)

type options struct {
	defaults []lock.Option
	prefix   string
}

// WithDefaults sets lock options (TTL, safety margin, backoff, ...) that
// apply to every call of the Locker before the call's own options.
func WithDefaults(opts ...lock.Option) Option {
	return func(o *options) { o.defaults = append(o.defaults, opts...) }
}

// WithKeyPrefix puts the lease items under prefix+key in the Store, to keep
// them apart from other items. The longest lock key is then
// lock.DefaultMaxKeyLen-len(prefix) bytes. Default: no prefix.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// New returns a Locker whose leases are items of store. It does no I/O.
// The Store must accept keys of lock.DefaultMaxKeyLen bytes (every racefree
// Store does). A nil Option is an error wrapping lock.ErrInvalidOption.
func New(store cas.Store, opts ...Option) (*Locker, error) {
	if store == nil {
		return nil, errors.New("caslock: New: nil cas.Store")
	}
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("caslock: New: %w: nil Option", lock.ErrInvalidOption)
		}
		opt(&o)
	}
	if len(o.prefix) >= lock.DefaultMaxKeyLen {
		return nil, fmt.Errorf("caslock: New: key prefix of %d bytes leaves no room for keys", len(o.prefix))
	}
	b := &backend{store: store, prefix: o.prefix, observed: make(map[string]observation)}
	return &Locker{Client: lock.New(b, o.defaults...)}, nil
}
