package cas

import (
	"context"
	"fmt"
	"sync"
)

// Memory is the in-process Store: a map guarded by a mutex, for code-level
// optimistic concurrency inside one process and as the reference that
// castest is checked against. Keys are limited to DefaultMaxKeyLen bytes and
// values to DefaultMaxValueSize. Tombstones of deleted keys are kept for the
// life of the Memory, so memory grows with the number of distinct keys.
//
// The zero Memory is an empty Store, ready to use; NewMemory returns the
// same. A Memory must not be copied after first use.
type Memory struct {
	mu    sync.Mutex
	items map[string]*memoryItem
}

// memoryItem is the state of one key; a tombstone has live false and keeps the
// last version.
type memoryItem struct {
	value   []byte
	version uint64
	live    bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{items: make(map[string]*memoryItem)}
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (Item, error) {
	if err := checkRequest(ctx, key, nil); err != nil {
		return Item{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok || !it.live {
		return Item{}, fmt.Errorf("memory get %q: %w", key, ErrNotFound)
	}
	return it.item(key), nil
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, key string, value []byte) (Item, error) {
	if err := checkRequest(ctx, key, value); err != nil {
		return Item{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok {
		if m.items == nil {
			m.items = make(map[string]*memoryItem)
		}
		it = &memoryItem{}
		m.items[key] = it
	}
	if it.live {
		return Item{}, fmt.Errorf("memory create %q: %w at version %d", key, ErrExists, it.version)
	}
	it.write(value)
	return it.item(key), nil
}

// CompareAndSwap implements Store.
func (m *Memory) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (Item, error) {
	if err := checkRequest(ctx, key, value); err != nil {
		return Item{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.current(key, version)
	if err != nil {
		return Item{}, fmt.Errorf("memory compare-and-swap %q: %w", key, err)
	}
	it.write(value)
	return it.item(key), nil
}

// CompareAndDelete implements Store.
func (m *Memory) CompareAndDelete(ctx context.Context, key string, version uint64) error {
	if err := checkRequest(ctx, key, nil); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.current(key, version)
	if err != nil {
		return fmt.Errorf("memory compare-and-delete %q: %w", key, err)
	}
	it.live, it.value = false, nil
	return nil
}

// current returns the live item of key if it is at version. m.mu is held.
func (m *Memory) current(key string, version uint64) (*memoryItem, error) {
	it, ok := m.items[key]
	switch {
	case !ok || !it.live:
		return nil, ErrNotFound
	case it.version != version:
		return nil, fmt.Errorf("%w: version is %d, not %d", ErrConflict, it.version, version)
	}
	return it, nil
}

func (it *memoryItem) write(value []byte) {
	it.value = clone(value)
	it.version++
	it.live = true
}

func (it *memoryItem) item(key string) Item {
	return Item{Key: key, Value: clone(it.value), Version: it.version}
}

// checkRequest is the validation every Memory call starts with.
func checkRequest(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateKey(key, DefaultMaxKeyLen); err != nil {
		return err
	}
	return ValidateValue(value, DefaultMaxValueSize)
}

// clone copies b into a new, never nil, slice.
func clone(b []byte) []byte {
	return append([]byte{}, b...)
}
