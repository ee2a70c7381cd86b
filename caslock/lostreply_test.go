package caslock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/racefree/racefree/cas"
)

// lostCreate is a Store whose Create is applied but answers with an error,
// as when the connection breaks after the server wrote the item.
type lostCreate struct{ cas.Store }

var errLostReply = errors.New("connection reset after the write")

func (s lostCreate) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if _, err := s.Store.Create(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	return cas.Item{}, errLostReply
}

// A TryAcquire whose create was applied but whose answer was lost gives the
// item back: nobody else would release it before its lease period.
func TestTryAcquireGivesBackACreateWhoseAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	store := cas.NewMemory()
	l := newLocker(t, lostCreate{store})
	if _, err := l.TryAcquire(ctx, "k"); !errors.Is(err, errLostReply) {
		t.Fatalf("TryAcquire with the create's answer lost: %v, want the Store's error", err)
	}
	if it, err := store.Get(ctx, "k"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("item after the failed TryAcquire: %+v, %v; want it given back", it, err)
	}
	lease, err := newLocker(t, store).TryAcquire(ctx, "k")
	if err != nil {
		t.Fatalf("TryAcquire by another Locker after the give-back: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
