package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/cas"
)

// Projection folds the events of every stream into a read model of type M.
type Projection[M any] struct {
	// Name identifies the read model; it names the item that keeps it.
	Name string
	// Apply folds one event into the model. Events of one stream arrive in
	// order, each exactly once; streams are visited in name order.
	Apply func(model *M, e Event) error
}

// View is a read model with the stream versions it reflects.
type View[M any] struct {
	Model       M                 `json:"model"`
	Checkpoints map[string]uint64 `json:"checkpoints"` // stream -> last version applied

	// Batches is, per stream, the number of the last batch applied, so that
	// a catch-up reads only the batches after it.
	Batches map[string]uint64 `json:"batches,omitempty"`
}

// Projector keeps a Projection's read model up to date. Several projectors of
// the same projection may run at once (for availability): each catch-up is
// saved with compare-and-swap, so only one of them wins a round and the others
// start again from what it saved.
type Projector[M any] struct {
	store *Store
	p     Projection[M]
}

// NewProjector returns a projector of p over s. M must round-trip through
// encoding/json. A nil s, or a p without a valid Name, makes every method
// return an error wrapping ErrInvalid, and so does a p without Apply every
// method but View.
func NewProjector[M any](s *Store, p Projection[M]) *Projector[M] {
	return &Projector[M]{store: s, p: p}
}

func (pr *Projector[M]) key() string { return pr.store.prefix + "/proj/" + pr.p.Name }

// View returns the read model as last saved.
func (pr *Projector[M]) View(ctx context.Context) (View[M], error) {
	if err := pr.check(true); err != nil {
		return View[M]{}, err
	}
	v, _, err := pr.load(ctx)
	return v, err
}

// check refuses a projector that could not work: nil, over a nil store, or
// of a projection without a valid Name or, unless viewOnly, without Apply.
func (pr *Projector[M]) check(viewOnly bool) error {
	if pr == nil {
		return fmt.Errorf("%w: nil projector", ErrInvalid)
	}
	if err := pr.store.check(); err != nil {
		return err
	}
	if err := validateName("projection name", pr.p.Name); err != nil {
		return err
	}
	if !viewOnly && pr.p.Apply == nil {
		return fmt.Errorf("%w: projection %s without Apply", ErrInvalid, pr.p.Name)
	}
	return nil
}

// newView is an empty read model, at no checkpoint.
func newView[M any]() View[M] {
	return View[M]{Checkpoints: make(map[string]uint64), Batches: make(map[string]uint64)}
}

func (pr *Projector[M]) load(ctx context.Context) (View[M], uint64, error) {
	v := newView[M]()
	item, err := pr.store.kv.Get(ctx, pr.key())
	if errors.Is(err, cas.ErrNotFound) {
		return v, 0, nil
	}
	if err != nil {
		return v, 0, fmt.Errorf("eventsource: read projection %s: %w", pr.p.Name, err)
	}
	if err := json.Unmarshal(item.Value, &v); err != nil {
		return v, 0, fmt.Errorf("eventsource: corrupt projection %s: %w", pr.p.Name, err)
	}
	if v.Checkpoints == nil {
		v.Checkpoints = make(map[string]uint64)
	}
	if v.Batches == nil {
		v.Batches = make(map[string]uint64)
	}
	return v, item.Version, nil
}

// CatchUp applies every event appended since the last save and saves the
// model together with its checkpoints in one write. It returns how many events
// it applied. If Apply fails, or the process dies, nothing of this round is
// saved and the next CatchUp starts from the previous save. If another
// projector saved first, CatchUp returns an error wrapping ErrConflict.
func (pr *Projector[M]) CatchUp(ctx context.Context) (int, error) {
	if err := pr.check(false); err != nil {
		return 0, err
	}
	v, version, err := pr.load(ctx)
	if err != nil {
		return 0, err
	}
	return pr.replay(ctx, v, version, false)
}

// replay applies to v the events after its checkpoints and saves it over the
// model saved at version (0: none). Unless always, a round that applied
// nothing saves nothing.
func (pr *Projector[M]) replay(ctx context.Context, v View[M], version uint64, always bool) (int, error) {
	streams, err := pr.store.Streams(ctx)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, stream := range streams {
		var applyErr error
		from := head{batch: v.Batches[stream], version: v.Checkpoints[stream]}
		h, err := pr.store.scan(ctx, stream, from, func(_ uint64, b batch) {
			for _, e := range b.Events {
				if applyErr != nil || e.Version <= from.version {
					continue
				}
				if applyErr = pr.p.Apply(&v.Model, e); applyErr != nil {
					applyErr = fmt.Errorf("eventsource: projection %s at %s#%d: %w", pr.p.Name, stream, e.Version, applyErr)
					return
				}
				applied++
			}
		})
		if err == nil {
			err = applyErr
		}
		if err != nil {
			return 0, err
		}
		v.Checkpoints[stream], v.Batches[stream] = h.version, h.batch
	}
	if applied == 0 && !always {
		return 0, nil
	}
	return applied, pr.save(ctx, v, version)
}

func (pr *Projector[M]) save(ctx context.Context, v View[M], version uint64) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("eventsource: encode projection %s: %w", pr.p.Name, err)
	}
	if version == 0 {
		_, err = pr.store.kv.Create(ctx, pr.key(), value)
	} else {
		_, err = pr.store.kv.CompareAndSwap(ctx, pr.key(), version, value)
	}
	if errors.Is(err, cas.ErrExists) || errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
		return fmt.Errorf("%w: projection %s was saved by another projector: %w", ErrConflict, pr.p.Name, err)
	}
	if err != nil {
		return fmt.Errorf("eventsource: save projection %s: %w", pr.p.Name, err)
	}
	return nil
}

// Rebuild replays every stream from the start into a fresh read model, for a
// changed Apply or a damaged model, and saves it over the old one in one
// compare-and-swap. Until then View returns the old model, and it stays if
// Apply fails, the process dies or another projector saves first (an error
// wrapping ErrConflict).
func (pr *Projector[M]) Rebuild(ctx context.Context) (int, error) {
	if err := pr.check(false); err != nil {
		return 0, err
	}
	_, version, err := pr.load(ctx)
	if err != nil {
		return 0, err
	}
	return pr.replay(ctx, newView[M](), version, version != 0)
}

// Run catches up every interval until ctx is done, and returns ctx's error.
// A round lost to another projector is simply retried; any other error stops
// Run and is returned. An interval that is not above zero is refused with
// ErrInvalid.
func (pr *Projector[M]) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: projector interval %v is not above zero", ErrInvalid, interval)
	}
	if err := pr.check(false); err != nil {
		return err
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if _, err := pr.CatchUp(ctx); err != nil && !errors.Is(err, ErrConflict) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
