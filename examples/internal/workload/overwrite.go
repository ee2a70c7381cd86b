package workload

import (
	"context"
	"errors"

	"github.com/racefree/racefree/cas"
)

// Overwrite writes value to key whatever its version, as a plain UPDATE or
// PUT does: the last writer wins and whatever was written since the caller's
// read is silently lost. The unprotected runs use it to show that loss;
// never write like this where a read decided the value.
func Overwrite(ctx context.Context, s cas.Store, key string, value []byte) error {
	for {
		cur, err := s.Get(ctx, key)
		if errors.Is(err, cas.ErrNotFound) {
			if _, err = s.Create(ctx, key, value); !errors.Is(err, cas.ErrExists) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if _, err = s.CompareAndSwap(ctx, key, cur.Version, value); !errors.Is(err, cas.ErrConflict) && !errors.Is(err, cas.ErrNotFound) {
			return err
		}
	}
}
