package dynamocas

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/racefree/racefree/cas"
)

// state is a stored item as the Store reads it.
type state struct {
	exists  bool // an item, live or tombstone, is stored under the key
	live    bool
	version uint64
	value   []byte
}

// decode reads an item of the table layout; nil or empty means no item.
func decode(item map[string]types.AttributeValue) (state, error) {
	if len(item) == 0 {
		return state{}, nil
	}
	st := state{exists: true, live: true, value: []byte{}}
	if av, ok := item[AttrVersion]; ok {
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return state{}, fmt.Errorf("dynamocas: attribute %s is %T, not a number", AttrVersion, av)
		}
		v, err := strconv.ParseUint(n.Value, 10, 64)
		if err != nil {
			return state{}, fmt.Errorf("dynamocas: attribute %s: %w", AttrVersion, err)
		}
		st.version = v
	}
	if av, ok := item[AttrValue]; ok {
		b, ok := av.(*types.AttributeValueMemberB)
		if !ok {
			return state{}, fmt.Errorf("dynamocas: attribute %s is %T, not binary", AttrValue, av)
		}
		st.value = append(st.value, b.Value...)
	}
	if av, ok := item[AttrDeleted]; ok {
		b, ok := av.(*types.AttributeValueMemberBOOL)
		st.live = !ok || !b.Value
	}
	if st.version == 0 {
		// An item without a version was not written by a Store (for example
		// one holding only another package's attributes): not an item yet.
		st.live = false
	}
	return st, nil
}

// conditional runs write, a conditional UpdateItem on a live item of key at
// version, and turns a failed condition into cas.ErrConflict or
// cas.ErrNotFound. Any other error of write is reported by failWrite: write
// runs with writeRetries, so a failed condition is never the echo of an
// earlier attempt that was applied.
//
// The item the condition saw (ALL_OLD on failure) decides. When the failure
// carries no item — the key was never written, or the server does not return
// it — one strongly consistent read decides instead: the refused write had no
// effect, so it takes effect at that read. If the read finds the key live at
// version, the item was re-created in between and the write is tried again.
func (s *Store) conditional(ctx context.Context, op, key string, version uint64, write func() error) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if err == nil {
			return nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return s.failWrite(ctx, op, key, err)
		}
		saw := ccf.Item
		if len(saw) == 0 {
			out, rerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{
				TableName:      aws.String(s.table),
				Key:            keyOf(key),
				ConsistentRead: aws.Bool(true),
			})
			if rerr != nil {
				return s.fail(ctx, op, key, fmt.Errorf("reading the item after a failed condition: %w (condition: %w)", rerr, err))
			}
			saw = out.Item
		}
		decided := classify(saw, version)
		if decided == nil && attempt < maxDecideAttempts {
			continue
		}
		if decided == nil {
			decided = fmt.Errorf("%w: the item kept changing at version %d", cas.ErrConflict, version)
		}
		return fmt.Errorf("dynamocas: %s %q: %w: %w", op, key, decided, err)
	}
}

// classify tells why a write conditioned on a live item at version was
// refused, from the item the condition saw (or a read after it): an error
// wrapping cas.ErrNotFound or cas.ErrConflict, or nil when the item is live
// at version after all (it was re-created in between: write again).
func classify(saw map[string]types.AttributeValue, version uint64) error {
	st, err := decode(saw)
	switch {
	case err != nil:
		return err
	case !st.live:
		return fmt.Errorf("%w at version %d", cas.ErrNotFound, version)
	case st.version != version:
		return fmt.Errorf("%w: version is %d, not %d", cas.ErrConflict, st.version, version)
	}
	return nil
}

// versionNote describes the item a failed Create saw, when the server
// returned it.
func versionNote(item map[string]types.AttributeValue) string {
	st, err := decode(item)
	if err != nil || !st.live {
		return ""
	}
	return fmt.Sprintf(" at version %d", st.version)
}
