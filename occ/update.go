package occ

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/racefree/racefree/cas"
)

// ErrTooManyConflicts is returned by Update when every attempt lost to a
// concurrent write. The error also wraps cas.ErrConflict, so errors.Is(err,
// cas.ErrConflict) holds too, and the last conflict when it was one. When the
// last round lost otherwise (a Create that met cas.ErrExists, a
// CompareAndSwap that met cas.ErrNotFound), that cause is only mentioned in
// the message, not wrapped: Update gave up, the key is neither missing nor
// newly created.
var ErrTooManyConflicts = errors.New("occ: too many conflicts")

// Stats says what one Update did.
type Stats struct {
	// Attempts counts the read-modify-write rounds, the last one included.
	Attempts int
	// Conflicts counts the rounds lost to a concurrent write.
	Conflicts int
	// Waited is the total time spent in backoff between rounds.
	Waited time.Duration
}

// Update reads key from s, calls fn with the current item and writes the value
// fn returns with CompareAndSwap at the version read. When another writer got
// there first (cas.ErrConflict, or the item vanished), it waits a jittered
// backoff and tries again, reading afresh, up to the maximum attempts; then it
// returns an error wrapping ErrTooManyConflicts and cas.ErrConflict.
//
// fn may run several times and must not have side effects other than its
// result. An error from fn aborts the Update: it is returned as it is and
// nothing is written. A done ctx stops the Update between attempts with the
// context's error. A missing key is an error wrapping cas.ErrNotFound unless
// CreateIfMissing is given. Update returns the item written and its Stats,
// which are filled in on error too.
func Update(ctx context.Context, s cas.Store, key string, fn func(cur cas.Item) ([]byte, error), opts ...Option) (cas.Item, Stats, error) {
	var st Stats
	cfg, err := resolve(opts)
	switch {
	case err != nil:
		return cas.Item{}, st, err
	case s == nil:
		return cas.Item{}, st, errors.New("occ: Update needs a non-nil cas.Store")
	case fn == nil:
		return cas.Item{}, st, errors.New("occ: Update needs a non-nil function")
	}
	var b backoff.BackOff
	for {
		if err := ctx.Err(); err != nil {
			return cas.Item{}, st, err
		}
		st.Attempts++
		it, conflict, err := attempt(ctx, s, key, fn, cfg.create)
		if !conflict {
			return it, st, err
		}
		st.Conflicts++
		if st.Attempts >= cfg.maxAttempts {
			return cas.Item{}, st, giveUp(key, st.Attempts, "", err)
		}
		if b == nil {
			if b = cfg.newBackOff(); b == nil {
				return cas.Item{}, st, fmt.Errorf("%w: the WithBackOff constructor returned a nil BackOff", ErrInvalidOption)
			}
		}
		d := b.NextBackOff()
		if d == backoff.Stop {
			return cas.Item{}, st, giveUp(key, st.Attempts, ", the backoff stopped", err)
		}
		waited, err := sleep(ctx, d)
		st.Waited += waited
		if err != nil {
			return cas.Item{}, st, err
		}
	}
}

// giveUp is the error of an Update that lost its last round with last: it
// wraps ErrTooManyConflicts and cas.ErrConflict, and last only when last is
// a conflict; a cas.ErrExists or cas.ErrNotFound is only mentioned.
func giveUp(key string, attempts int, why string, last error) error {
	if errors.Is(last, cas.ErrConflict) {
		return fmt.Errorf("%w on %q after %d attempts%s: %w", ErrTooManyConflicts, key, attempts, why, last)
	}
	return fmt.Errorf("%w on %q after %d attempts%s: %w (the last write met: %v)", ErrTooManyConflicts, key, attempts, why, cas.ErrConflict, last)
}

// attempt is one read-modify-write round. conflict reports that its write
// lost to another writer: a changed version, an item deleted after the read
// (the next read decides what that means), or one created after it.
func attempt(ctx context.Context, s cas.Store, key string, fn func(cas.Item) ([]byte, error), create bool) (it cas.Item, conflict bool, err error) {
	cur, err := s.Get(ctx, key)
	switch {
	case err == nil:
	case create && errors.Is(err, cas.ErrNotFound):
		cur = cas.Item{Key: key}
	default:
		return cas.Item{}, false, err
	}
	value, err := fn(cur)
	if err != nil {
		return cas.Item{}, false, err
	}
	if cur.Version == 0 {
		it, err = s.Create(ctx, key, value)
		return it, errors.Is(err, cas.ErrExists), err
	}
	it, err = s.CompareAndSwap(ctx, key, cur.Version, value)
	return it, errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound), err
}

// sleep waits d or until ctx is done, and returns how long it waited.
func sleep(ctx context.Context, d time.Duration) (time.Duration, error) {
	start := time.Now()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return time.Since(start), nil
	case <-ctx.Done():
		return time.Since(start), ctx.Err()
	}
}
