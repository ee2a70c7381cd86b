package cas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

var errNilStore = errors.New("cas: Typed has a nil Store")

// Codec turns values into the bytes a Store keeps and back.
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// JSON is the Codec of encoding/json, the default of Typed.
type JSON struct{}

// Marshal implements Codec with json.Marshal.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec with json.Unmarshal.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Typed is a Store of values of type T, encoded with Codec (JSON when nil).
// It adds no state: two Typed over the same Store see the same items.
// An encoding error wraps ErrEncode and writes nothing; a stored value the
// Codec cannot read wraps ErrDecode.
type Typed[T any] struct {
	// Store keeps the encoded values.
	Store Store
	// Codec encodes and decodes values; nil means JSON.
	Codec Codec
}

// Get returns the value of key and its version, or an error wrapping
// ErrNotFound or ErrDecode.
func (t Typed[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	if t.Store == nil {
		var zero T
		return zero, 0, errNilStore
	}
	it, err := t.Store.Get(ctx, key)
	if err != nil {
		var zero T
		return zero, 0, err
	}
	v, err := t.Decode(it)
	return v, it.Version, err
}

// Create stores v under key and returns its version, or an error wrapping
// ErrExists or ErrEncode.
func (t Typed[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	data, err := t.Encode(key, v)
	if err != nil {
		return 0, err
	}
	if t.Store == nil {
		return 0, errNilStore
	}
	it, err := t.Store.Create(ctx, key, data)
	return it.Version, err
}

// CompareAndSwap replaces the value of key with v if key is at version and
// returns the new version, or an error wrapping ErrConflict, ErrNotFound or
// ErrEncode.
func (t Typed[T]) CompareAndSwap(ctx context.Context, key string, version uint64, v T) (uint64, error) {
	data, err := t.Encode(key, v)
	if err != nil {
		return 0, err
	}
	if t.Store == nil {
		return 0, errNilStore
	}
	it, err := t.Store.CompareAndSwap(ctx, key, version, data)
	return it.Version, err
}

// CompareAndDelete deletes key if it is at version, like
// Store.CompareAndDelete.
func (t Typed[T]) CompareAndDelete(ctx context.Context, key string, version uint64) error {
	if t.Store == nil {
		return errNilStore
	}
	return t.Store.CompareAndDelete(ctx, key, version)
}

// Encode encodes v, the new value of key, with the Codec; an error wraps
// ErrEncode.
func (t Typed[T]) Encode(key string, v T) ([]byte, error) {
	data, err := t.codec().Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w %T for key %q: %w", ErrEncode, v, key, err)
	}
	return data, nil
}

// Decode decodes the value of it with the Codec; an error wraps ErrDecode and
// names the key and version.
func (t Typed[T]) Decode(it Item) (T, error) {
	var v T
	if err := t.codec().Unmarshal(it.Value, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("%w as %T: key %q version %d: %w", ErrDecode, v, it.Key, it.Version, err)
	}
	return v, nil
}

func (t Typed[T]) codec() Codec {
	if t.Codec == nil {
		return JSON{}
	}
	return t.Codec
}
