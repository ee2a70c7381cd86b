package occ

import (
	"context"
	"errors"

	"github.com/racefree/racefree/cas"
)

// Retry runs fn until it returns anything but an error wrapping
// cas.ErrConflict, with the attempt bound and jittered backoff of Update (the
// same options: WithMaxAttempts, WithBackOff; CreateIfMissing has no effect).
// It is the loop for optimistic updates of your own rows: fn reads the row
// and its version, computes, and writes with Table.Update, which reports a
// lost race as cas.ErrConflict. name identifies what fn updates in the error
// wrapping ErrTooManyConflicts when every attempt conflicted.
//
// fn may run several times; each run must read afresh (in a new transaction
// if it uses one). Any other error, cas.ErrNotFound included, ends Retry and
// is returned as it is. A bad option (see ErrInvalidOption) is an error
// wrapping ErrInvalidOption. Retry returns its Stats, on error too.
func Retry(ctx context.Context, name string, fn func(ctx context.Context) error, opts ...Option) (Stats, error) {
	if fn == nil {
		return Stats{}, errors.New("occ: Retry needs a non-nil function")
	}
	// Update's loop runs over a Store whose one "item" is fn: a read that
	// always finds it and a compare-and-swap that runs fn.
	_, st, err := Update(ctx, retryStore{fn}, name, func(cas.Item) ([]byte, error) { return nil, nil }, opts...)
	var f final
	if errors.As(err, &f) {
		return st, f.err
	}
	return st, err
}

// retryStore adapts fn to the cas.Store that Update loops over.
type retryStore struct{ fn func(context.Context) error }

func (retryStore) Get(_ context.Context, key string) (cas.Item, error) {
	return cas.Item{Key: key, Version: 1}, nil
}

func (retryStore) Create(context.Context, string, []byte) (cas.Item, error) {
	return cas.Item{}, errors.New("occ: Retry does not create")
}

// CompareAndSwap runs fn. A conflict goes to Update as it is, so that it
// retries; any other outcome is hidden in final, so that Update returns it
// at once (it would also retry cas.ErrNotFound).
func (s retryStore) CompareAndSwap(ctx context.Context, key string, _ uint64, _ []byte) (cas.Item, error) {
	err := s.fn(ctx)
	switch {
	case err == nil:
		return cas.Item{Key: key}, nil
	case errors.Is(err, cas.ErrConflict):
		return cas.Item{}, err
	}
	return cas.Item{}, final{err}
}

func (retryStore) CompareAndDelete(context.Context, string, uint64) error {
	return errors.New("occ: Retry does not delete")
}

// final carries fn's error through Update without exposing its chain.
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }
