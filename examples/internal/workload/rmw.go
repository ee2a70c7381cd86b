package workload

import (
	"context"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

// ReadModifyWrite updates typed items of a Store with a function of their
// current value, either unprotected or optimistically. Think is the time
// between the read and the write (a computation, a call to another service),
// the window in which an unprotected update loses the writes of others.
type ReadModifyWrite[T any] struct {
	Store cas.Typed[T]
	Think time.Duration
}

// Unprotected reads key, applies fn, waits Think and overwrites key with the
// result: every write made by someone else in between is lost. An error from
// fn (a business refusal) is returned as it is and nothing is written.
func (u ReadModifyWrite[T]) Unprotected(ctx context.Context, key string, fn func(cur T) (T, error)) error {
	cur, _, err := u.Store.Get(ctx, key)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	time.Sleep(u.Think)
	value, err := u.Store.Encode(key, next)
	if err != nil {
		return err
	}
	return Overwrite(ctx, u.Store.Store, key, value)
}

// Optimistic does the same with occ.UpdateTyped: the write is a
// compare-and-swap on the version read, retried from a fresh read on a
// conflict. It records the conflicts and the backoff in rec. opts tune the
// retries.
func (u ReadModifyWrite[T]) Optimistic(ctx context.Context, key string, fn func(cur T) (T, error), rec *Recorder, opts ...occ.Option) error {
	_, _, stats, err := occ.UpdateTyped(ctx, u.Store, key, func(cur T, _ uint64) (T, error) {
		next, err := fn(cur)
		if err == nil {
			time.Sleep(u.Think)
		}
		return next, err
	}, opts...)
	rec.Conflicts(stats.Conflicts)
	if stats.Waited > 0 {
		rec.Wait(stats.Waited)
	}
	return err
}
