package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

// Store keeps event streams in a cas.Store.
type Store struct {
	kv     cas.Store
	prefix string
	now    func() time.Time

	mu    sync.Mutex
	heads map[string]head // last batch seen per stream: a hint, re-checked on use
}

// head is where a stream ended when last seen.
type head struct {
	batch   uint64 // number of the last batch
	version uint64 // version of its last event
}

// batch is the stored form of one Append.
type batch struct {
	First   uint64  `json:"first"` // version of the first event
	Command string  `json:"command,omitempty"`
	Events  []Event `json:"events"`
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of every key the Store writes. Default "es".
func WithPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// New returns a Store over kv. It does no I/O.
func New(kv cas.Store, opts ...Option) *Store {
	s := &Store{kv: kv, prefix: "es", now: time.Now, heads: make(map[string]head)}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s
}

func (s *Store) batchKey(stream string, n uint64) string {
	return s.prefix + "/s/" + stream + "/" + strconv.FormatUint(n, 10)
}

func (s *Store) streamsKey() string { return s.prefix + "/streams" }

func (s *Store) snapshotKey(stream string) string { return s.prefix + "/snap/" + stream }

// Append adds events to stream if the stream's version is expected (0 for a
// stream with no events yet) and returns the stream's new version. If another
// append came first it returns an error wrapping ErrConflict and writes
// nothing. commandID, if not empty, is recorded with the events (see Handle).
// An event without a Type, with a Type that is not valid UTF-8, or with Data
// that is not valid UTF-8 JSON is refused with ErrInvalid, and nothing is
// written.
func (s *Store) Append(ctx context.Context, stream string, expected uint64, commandID string, events ...Event) (uint64, error) {
	b, err := s.append(ctx, stream, expected, commandID, events)
	if err != nil {
		return 0, err
	}
	return b.First + uint64(len(b.Events)) - 1, nil
}

// append is Append returning the batch as stored, its events stamped as
// Load returns them.
func (s *Store) append(ctx context.Context, stream string, expected uint64, commandID string, events []Event) (batch, error) {
	if err := s.check(); err != nil {
		return batch{}, err
	}
	if err := validateName("stream", stream); err != nil {
		return batch{}, err
	}
	if commandID != "" {
		if err := validateName("command id", commandID); err != nil {
			return batch{}, err
		}
	}
	if len(events) == 0 {
		return batch{}, fmt.Errorf("%w: no events to append", ErrInvalid)
	}
	// Validate and encode before anything is written: refused input must
	// leave no trace, not even a registered stream.
	b := batch{First: expected + 1, Command: commandID, Events: make([]Event, len(events))}
	at := s.now().UTC()
	for i, e := range events {
		if err := validateEvent(i, e); err != nil {
			return batch{}, err
		}
		e.At = at
		b.Events[i] = e
	}
	value, err := json.Marshal(b)
	if err != nil {
		return batch{}, fmt.Errorf("%w: encode batch: %w", ErrInvalid, err)
	}
	// The caller gets the events exactly as a later Load (or a retried
	// command) will: At as encoded, Data compacted. Decoded before the write,
	// so that nothing can fail after it.
	stored, err := decodeBatch(stream, cas.Item{Key: "new batch of " + stream, Value: value})
	if err != nil {
		return batch{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	h := s.cachedHead(stream)
	if h.version != expected {
		if h, err = s.scan(ctx, stream, h, nil); err != nil {
			return batch{}, err
		}
	}
	if h.version != expected {
		return batch{}, fmt.Errorf("%w: %s is at version %d, not %d", ErrConflict, stream, h.version, expected)
	}
	if h.batch == 0 {
		if err := s.register(ctx, stream); err != nil {
			return batch{}, err
		}
	}
	_, err = s.kv.Create(ctx, s.batchKey(stream, h.batch+1), value)
	if errors.Is(err, cas.ErrExists) {
		return batch{}, fmt.Errorf("%w: %s moved past version %d: %w", ErrConflict, stream, expected, err)
	}
	if err != nil {
		return batch{}, fmt.Errorf("eventsource: append to %s: %w", stream, err)
	}
	s.remember(stream, head{batch: h.batch + 1, version: expected + uint64(len(events))})
	return stored, nil
}

// check refuses a nil Store or one made over a nil cas.Store.
func (s *Store) check() error {
	if s == nil || s.kv == nil {
		return fmt.Errorf("%w: nil store (eventsource.New needs a cas.Store)", ErrInvalid)
	}
	return nil
}

// Load returns the events of stream with a version above after, in order, and
// the stream's current version.
func (s *Store) Load(ctx context.Context, stream string, after uint64) ([]Event, uint64, error) {
	if err := s.check(); err != nil {
		return nil, 0, err
	}
	if err := validateName("stream", stream); err != nil {
		return nil, 0, err
	}
	var events []Event
	h, err := s.scan(ctx, stream, head{}, func(_ uint64, b batch) {
		for _, e := range b.Events {
			if e.Version > after {
				events = append(events, e)
			}
		}
	})
	return events, h.version, err
}

// scan reads the batches of stream that follow from, calling visit for each,
// and returns where the stream ends.
func (s *Store) scan(ctx context.Context, stream string, from head, visit func(n uint64, b batch)) (head, error) {
	h := from
	for {
		item, err := s.kv.Get(ctx, s.batchKey(stream, h.batch+1))
		if errors.Is(err, cas.ErrNotFound) {
			s.remember(stream, h)
			return h, nil
		}
		if err != nil {
			return h, fmt.Errorf("eventsource: read %s: %w", stream, err)
		}
		b, err := decodeBatch(stream, item)
		if err != nil {
			return h, err
		}
		h = head{batch: h.batch + 1, version: b.First + uint64(len(b.Events)) - 1}
		if visit != nil {
			visit(h.batch, b)
		}
	}
}

func decodeBatch(stream string, item cas.Item) (batch, error) {
	var b batch
	if err := json.Unmarshal(item.Value, &b); err != nil {
		return b, fmt.Errorf("eventsource: corrupt batch %s: %w", item.Key, err)
	}
	for i := range b.Events {
		b.Events[i].Stream = stream
		b.Events[i].Version = b.First + uint64(i)
		b.Events[i].Command = b.Command
	}
	return b, nil
}

func (s *Store) cachedHead(stream string) head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heads[stream]
}

func (s *Store) remember(stream string, h head) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.batch > s.heads[stream].batch {
		s.heads[stream] = h
	}
}

// register adds stream to the list of streams, before its first batch is
// written, so that a projector can never miss a stream that has events.
func (s *Store) register(ctx context.Context, stream string) error {
	_, _, err := occ.Update(ctx, s.kv, s.streamsKey(), func(cur cas.Item) ([]byte, error) {
		names, err := decodeNames(cur.Value)
		if err != nil {
			return nil, err
		}
		i, found := slices.BinarySearch(names, stream)
		if found {
			return nil, errRegistered
		}
		return json.Marshal(slices.Insert(names, i, stream))
	}, occ.CreateIfMissing(), occ.WithMaxAttempts(50))
	if err != nil && !errors.Is(err, errRegistered) {
		return fmt.Errorf("eventsource: register stream %s: %w", stream, err)
	}
	return nil
}

var errRegistered = errors.New("stream already registered")

// Streams returns the names of all streams, sorted.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	item, err := s.kv.Get(ctx, s.streamsKey())
	if errors.Is(err, cas.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventsource: list streams: %w", err)
	}
	return decodeNames(item.Value)
}

func decodeNames(value []byte) ([]string, error) {
	if len(value) == 0 {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(value, &names); err != nil {
		return nil, fmt.Errorf("eventsource: corrupt stream list: %w", err)
	}
	return names, nil
}
