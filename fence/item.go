package fence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/racefree/racefree/cas"
)

// ErrNotFenced means an item of a cas.Store holds a value that Item did not
// write, so it has no fence to check. Nothing was written.
var ErrNotFenced = errors.New("fence: item holds no fenced value")

// defaultItemAttempts bounds the read-check-write rounds of Item.Update.
const defaultItemAttempts = 16

// fencedTag starts every value Item writes; the token follows in 8 bytes.
const fencedTag = 'F'

// Item guards values kept in any cas.Store (cas.NewMemory, dynamocas,
// mongocas, sqlcas): each value is stored behind a header that holds the
// highest token written so far. Write guarded items only through Item; a
// Store delete of such an item forgets its fence, so clear a value by writing
// an empty one instead.
type Item struct {
	// MaxAttempts bounds the read-check-write rounds of one Update when other
	// writers keep changing the item; zero means 16. It is exhausted only
	// under contention a lock would have prevented.
	MaxAttempts int
}

// Update writes value under key in s if token is at least the highest token
// the item has seen, and makes token the item's fence, in one conditional
// write: it reads the item, checks its fence and writes with CompareAndSwap
// at the version it read, so a write by anyone in between makes it read and
// check again. A missing item is created with token as its fence. A refused
// write returns a *StaleError (errors.Is ErrStaleToken) with the item's
// fence; a value Item did not write, ErrNotFenced. When other writers change
// the item in every one of MaxAttempts rounds, Update gives up with an error
// wrapping cas.ErrConflict; a cas.ErrExists or cas.ErrNotFound that the last
// round met is only mentioned, not wrapped. It returns the stored item (its
// Value is the stored, fenced, bytes).
func (g Item) Update(ctx context.Context, s cas.Store, key string, token uint64, value []byte) (cas.Item, error) {
	if s == nil {
		return cas.Item{}, errors.New("fence: Item.Update needs a non-nil cas.Store")
	}
	stored := fenced(token, value)
	attempts := g.MaxAttempts
	if attempts <= 0 {
		attempts = defaultItemAttempts
	}
	var last error
	for range attempts {
		cur, err := s.Get(ctx, key)
		if errors.Is(err, cas.ErrNotFound) {
			it, err := s.Create(ctx, key, stored)
			if errors.Is(err, cas.ErrExists) {
				last = err
				continue
			}
			return it, err
		}
		if err != nil {
			return cas.Item{}, err
		}
		seen, _, err := unfence(cur)
		if err != nil {
			return cas.Item{}, err
		}
		if token < seen {
			return cas.Item{}, &StaleError{Resource: key, Token: token, Fence: seen}
		}
		it, err := s.CompareAndSwap(ctx, key, cur.Version, stored)
		if errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
			last = err
			continue
		}
		return it, err
	}
	if errors.Is(last, cas.ErrConflict) {
		return cas.Item{}, fmt.Errorf("fence: update %q: the item changed %d times in a row: %w", key, attempts, last)
	}
	return cas.Item{}, fmt.Errorf("fence: update %q: the item changed %d times in a row: %w (the last write met: %v)", key, attempts, cas.ErrConflict, last)
}

// Get returns the value Item stored under key in s and its fence, the
// highest token written. A missing item is an error wrapping cas.ErrNotFound.
func (g Item) Get(ctx context.Context, s cas.Store, key string) (value []byte, fence uint64, err error) {
	if s == nil {
		return nil, 0, errors.New("fence: Item.Get needs a non-nil cas.Store")
	}
	it, err := s.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	fence, value, err = unfence(it)
	return value, fence, err
}

// fenced is value behind the header that records token.
func fenced(token uint64, value []byte) []byte {
	b := make([]byte, 9, 9+len(value))
	b[0] = fencedTag
	binary.BigEndian.PutUint64(b[1:], token)
	return append(b, value...)
}

// unfence splits a stored item into its fence and value.
func unfence(it cas.Item) (uint64, []byte, error) {
	if len(it.Value) < 9 || it.Value[0] != fencedTag {
		return 0, nil, fmt.Errorf("%w: %q at version %d", ErrNotFenced, it.Key, it.Version)
	}
	return binary.BigEndian.Uint64(it.Value[1:9]), append([]byte{}, it.Value[9:]...), nil
}
