package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/racefree/racefree/cas"
)

// Aggregate rebuilds the state S of one stream from its events.
type Aggregate[S any] struct {
	// Apply folds one event into the state.
	Apply func(state *S, e Event) error
	// SnapshotEvery, if above zero, saves a snapshot of the state after a
	// command once that many events have been appended since the last one,
	// so that long streams are not replayed from the start. S must then
	// round-trip through encoding/json.
	SnapshotEvery uint64
}

// Outcome is what a handled command did.
type Outcome struct {
	// Events are the events the command appended, with their versions.
	Events []Event
	// Version is the stream's version right after the command's append.
	Version uint64
	// Duplicate is true when the command had already been applied: Events
	// are then those of its first success and nothing was appended now.
	Duplicate bool
	// Conflicts counts the appends lost to concurrent commands and retried.
	Conflicts int
}

// snapshot is the stored form of an aggregate's state at a version.
type snapshot[S any] struct {
	Version  uint64            `json:"version"`
	Batch    uint64            `json:"batch"`
	State    S                 `json:"state"`
	Commands map[string]uint64 `json:"commands"` // command id -> batch number
}

// maxCommandAttempts bounds the retries of a command that keeps losing races.
const maxCommandAttempts = 20

// Handle applies the command commandID to the aggregate in stream: it loads
// the state, calls decide, and appends the events decide returns, retrying
// from a fresh state when a concurrent command appended first. An error from
// decide (a business rule refused the command) is returned as it is and
// nothing is appended. A command id that already took effect on stream is not
// decided again: Handle returns its first outcome with Duplicate set. The
// events of an Outcome are always those stored, as Load returns them. A nil
// s, agg.Apply or decide is refused with ErrInvalid.
func Handle[S any](ctx context.Context, s *Store, agg Aggregate[S], stream, commandID string,
	decide func(state S) ([]Event, error)) (Outcome, error) {
	if err := s.check(); err != nil {
		return Outcome{}, err
	}
	if agg.Apply == nil {
		return Outcome{}, fmt.Errorf("%w: aggregate without Apply", ErrInvalid)
	}
	if decide == nil {
		return Outcome{}, fmt.Errorf("%w: nil decide function", ErrInvalid)
	}
	if err := validateName("command id", commandID); err != nil {
		return Outcome{}, err
	}
	b := &backoff.ExponentialBackOff{InitialInterval: time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 100 * time.Millisecond}
	b.Reset()
	conflicts := 0
	for {
		snap, err := loadState(ctx, s, agg, stream)
		if err != nil {
			return Outcome{}, err
		}
		if n, done := snap.Commands[commandID]; done {
			out, err := s.outcomeOf(ctx, stream, n)
			out.Conflicts = conflicts
			return out, err
		}
		events, err := decide(snap.State)
		if err != nil {
			return Outcome{Conflicts: conflicts}, err
		}
		stored, err := s.append(ctx, stream, snap.Version, commandID, events)
		if errors.Is(err, ErrConflict) && conflicts+1 < maxCommandAttempts {
			conflicts++
			select {
			case <-ctx.Done():
				return Outcome{Conflicts: conflicts}, ctx.Err()
			case <-time.After(b.NextBackOff()):
			}
			continue
		}
		if err != nil {
			return Outcome{Conflicts: conflicts}, err
		}
		version := stored.First + uint64(len(stored.Events)) - 1
		out := Outcome{Version: version, Conflicts: conflicts, Events: stored.Events}
		if agg.SnapshotEvery > 0 && version-snap.savedAt >= agg.SnapshotEvery {
			// Best effort: a failed snapshot only means a longer replay later.
			_ = saveSnapshot(ctx, s, agg, stream)
		}
		return out, nil
	}
}

// state is an aggregate's state with the commands it has seen.
type state[S any] struct {
	snapshot[S]
	savedAt uint64 // stream version of the stored snapshot it started from
	item    uint64 // store version of that snapshot's item; 0 if none
}

// saveSnapshot stores the current state of stream as its snapshot.
func saveSnapshot[S any](ctx context.Context, s *Store, agg Aggregate[S], stream string) error {
	st, err := loadState(ctx, s, agg, stream)
	if err != nil || st.Version == st.savedAt {
		return err
	}
	value, err := json.Marshal(st.snapshot)
	if err != nil {
		return fmt.Errorf("eventsource: encode snapshot of %s: %w", stream, err)
	}
	if st.item == 0 {
		_, err = s.kv.Create(ctx, s.snapshotKey(stream), value)
	} else {
		_, err = s.kv.CompareAndSwap(ctx, s.snapshotKey(stream), st.item, value)
	}
	return err
}

// outcomeOf returns the outcome recorded by batch n of stream.
func (s *Store) outcomeOf(ctx context.Context, stream string, n uint64) (Outcome, error) {
	item, err := s.kv.Get(ctx, s.batchKey(stream, n))
	if err != nil {
		return Outcome{}, fmt.Errorf("eventsource: read batch %d of %s: %w", n, stream, err)
	}
	b, err := decodeBatch(stream, item)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Events: b.Events, Version: b.First + uint64(len(b.Events)) - 1, Duplicate: true}, nil
}

// loadState rebuilds the state of stream from its snapshot and the batches
// after it.
func loadState[S any](ctx context.Context, s *Store, agg Aggregate[S], stream string) (state[S], error) {
	st := state[S]{snapshot: snapshot[S]{Commands: make(map[string]uint64)}}
	if err := validateName("stream", stream); err != nil {
		return st, err
	}
	if item, err := s.kv.Get(ctx, s.snapshotKey(stream)); err == nil {
		if err := json.Unmarshal(item.Value, &st.snapshot); err != nil {
			return st, fmt.Errorf("eventsource: corrupt snapshot of %s: %w", stream, err)
		}
		if st.Commands == nil {
			st.Commands = make(map[string]uint64)
		}
		st.savedAt, st.item = st.Version, item.Version
	} else if !errors.Is(err, cas.ErrNotFound) {
		return st, fmt.Errorf("eventsource: read snapshot of %s: %w", stream, err)
	}
	var applyErr error
	h, err := s.scan(ctx, stream, head{batch: st.Batch, version: st.Version}, func(n uint64, b batch) {
		if b.Command != "" {
			st.Commands[b.Command] = n
		}
		for _, e := range b.Events {
			if applyErr == nil {
				applyErr = agg.Apply(&st.State, e)
			}
		}
	})
	if err != nil {
		return st, err
	}
	if applyErr != nil {
		return st, fmt.Errorf("eventsource: apply %s: %w", stream, applyErr)
	}
	st.Version, st.Batch = h.version, h.batch
	return st, nil
}
