package workload

import (
	"context"
	"strconv"
	"time"

	"github.com/racefree/racefree/cas"
)

// Items are n typed items of a Store under a fresh namespace, all created
// with the same initial value: the order books, the restaurant counters.
type Items[T any] struct {
	// RMW updates the items.
	RMW  ReadModifyWrite[T]
	keys []string
}

// NewItems creates n items named after name in a fresh Namespace of s, each
// holding initial; think is the read-to-write time of RMW.
func NewItems[T any](ctx context.Context, s cas.Store, name string, n int, initial T, think time.Duration) (Items[T], error) {
	it := Items[T]{RMW: ReadModifyWrite[T]{Store: cas.Typed[T]{Store: s}, Think: think}}
	ns := Namespace(name)
	for i := range n {
		key := ns + "-" + strconv.Itoa(i)
		if _, err := it.RMW.Store.Create(ctx, key, initial); err != nil {
			return it, err
		}
		it.keys = append(it.keys, key)
	}
	return it, nil
}

// Key returns the key of item i.
func (it Items[T]) Key(i int) string { return it.keys[i] }

// All reads every item, in order.
func (it Items[T]) All(ctx context.Context) ([]T, error) {
	var all []T
	for _, key := range it.keys {
		v, _, err := it.RMW.Store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, nil
}
