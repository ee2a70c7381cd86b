package occ

import (
	"context"
	"errors"

	"github.com/racefree/racefree/cas"
)

// UpdateTyped is Update over a cas.Typed store: fn gets the decoded current
// value and its version (the zero value and version 0 for a key created by
// CreateIfMissing) and returns the new value. It returns the value written
// and its version. A stored value that cannot be decoded ends the Update with
// an error wrapping cas.ErrDecode; one that cannot be encoded, cas.ErrEncode.
func UpdateTyped[T any](ctx context.Context, t cas.Typed[T], key string, fn func(cur T, version uint64) (T, error), opts ...Option) (T, uint64, Stats, error) {
	var zero T
	if fn == nil {
		return zero, 0, Stats{}, errors.New("occ: UpdateTyped needs a non-nil function")
	}
	var written T
	it, st, err := Update(ctx, t.Store, key, func(cur cas.Item) ([]byte, error) {
		v := zero
		if cur.Version != 0 {
			var err error
			if v, err = t.Decode(cur); err != nil {
				return nil, err
			}
		}
		next, err := fn(v, cur.Version)
		if err != nil {
			return nil, err
		}
		written = next
		return t.Encode(key, next)
	}, opts...)
	if err != nil {
		return zero, 0, st, err
	}
	return written, it.Version, st, nil
}
