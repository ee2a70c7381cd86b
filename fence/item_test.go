package fence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/fence"
	"github.com/racefree/racefree/internal/storeenv"
	"github.com/racefree/racefree/lock"
)

// wantStaleItem fails t unless err is a *StaleError for token at fenceSeen.
func wantStaleItem(t *testing.T, what string, err error, token, fenceSeen uint64) {
	t.Helper()
	var se *fence.StaleError
	if !errors.Is(err, fence.ErrStaleToken) || !errors.As(err, &se) || se.Token != token || se.Fence != fenceSeen {
		t.Fatalf("%s: %v, want a StaleError for token %d at fence %d", what, err, token, fenceSeen)
	}
}

func wantItemValue(t *testing.T, s cas.Store, key, value string, fenceWant uint64) {
	t.Helper()
	got, f, err := fence.Item{}.Get(context.Background(), s, key)
	if err != nil || string(got) != value || f != fenceWant {
		t.Fatalf("Get %q: %q at fence %d (%v), want %q at fence %d", key, got, f, err, value, fenceWant)
	}
}

// TestItemPausedHolder: a holder whose lease expired while it was paused
// writes late with its old token; the write is refused and the data of the
// holder that came after it survives. The lock is caslock on the same Store.
func TestItemPausedHolder(t *testing.T) {
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			newStore := b.Setup(t)
			ctx := context.Background()
			var guard fence.Item
			lockerA, err := caslock.New(newStore(t), caslock.WithKeyPrefix("lock/"))
			if err != nil {
				t.Fatal(err)
			}
			storeA := newStore(t)
			leaseA, err := lockerA.Acquire(ctx, "report", lock.WithTTL(300*time.Millisecond), lock.WithoutAutoRefresh())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := guard.Update(ctx, storeA, "report", leaseA.Token(), []byte("A: draft")); err != nil {
				t.Fatalf("holder A's write: %v", err)
			}

			// A pauses (a GC, a frozen VM) past its lease; B takes the lock.
			time.Sleep(400 * time.Millisecond)
			lockerB, err := caslock.New(newStore(t), caslock.WithKeyPrefix("lock/"))
			if err != nil {
				t.Fatal(err)
			}
			storeB := newStore(t)
			leaseB, err := lockerB.Acquire(ctx, "report", lock.WithTTL(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer leaseB.Release(ctx)
			if leaseB.Token() <= leaseA.Token() {
				t.Fatalf("B's token %d is not above A's %d", leaseB.Token(), leaseA.Token())
			}
			if _, err := guard.Update(ctx, storeB, "report", leaseB.Token(), []byte("B: final")); err != nil {
				t.Fatalf("holder B's write: %v", err)
			}

			// A wakes up and writes without looking at its lease.
			_, err = guard.Update(ctx, storeA, "report", leaseA.Token(), []byte("A: late"))
			wantStaleItem(t, "paused holder's late write", err, leaseA.Token(), leaseB.Token())
			wantItemValue(t, storeB, "report", "B: final", leaseB.Token())
			if !errors.Is(leaseA.Err(), lock.ErrLost) {
				t.Errorf("A's lease after the pause: %v, want ErrLost", leaseA.Err())
			}
		})
	}
}

// TestItemUpdate checks the guard's rules on each Store: a missing item is
// created, equal and higher tokens write, a lower one is refused with
// nothing written, and a value the guard did not write is ErrNotFenced.
func TestItemUpdate(t *testing.T) {
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Setup(t)(t)
			ctx := context.Background()
			var guard fence.Item
			for _, w := range []struct {
				token uint64
				value string
			}{{5, "five"}, {5, "five again"}, {9, "nine"}, {1 << 63, "huge"}} {
				if _, err := guard.Update(ctx, s, "k", w.token, []byte(w.value)); err != nil {
					t.Fatalf("Update with token %d: %v", w.token, err)
				}
				wantItemValue(t, s, "k", w.value, w.token)
			}
			_, err := guard.Update(ctx, s, "k", 9, []byte("stale"))
			wantStaleItem(t, "Update with a lower token", err, 9, 1<<63)
			wantItemValue(t, s, "k", "huge", 1<<63)

			if _, err := s.Create(ctx, "raw", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := guard.Update(ctx, s, "raw", 1, []byte("y")); !errors.Is(err, fence.ErrNotFenced) {
				t.Fatalf("Update of a foreign value: %v, want ErrNotFenced", err)
			}
			if _, _, err := guard.Get(ctx, s, "missing"); !errors.Is(err, cas.ErrNotFound) {
				t.Fatalf("Get of a missing item: %v, want cas.ErrNotFound", err)
			}
			if _, err := guard.Update(ctx, nil, "k", 1, nil); err == nil {
				t.Fatal("Update on a nil Store succeeded")
			}
		})
	}
}

// TestItemConcurrentTokens has writers with distinct tokens race on one
// item: however they interleave, the item ends with the highest token and
// its value, and every refusal names a fence above the refused token.
func TestItemConcurrentTokens(t *testing.T) {
	const writers = 6
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			newStore := b.Setup(t)
			ctx := context.Background()
			errs := make(chan error, writers)
			for i := range writers {
				s := newStore(t)
				go func() {
					token := uint64(i + 1)
					_, err := fence.Item{MaxAttempts: 100}.Update(ctx, s, "k", token, []byte{byte(token)})
					var se *fence.StaleError
					if errors.As(err, &se) && se.Fence > token {
						err = nil
					}
					errs <- err
				}()
			}
			for range writers {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			wantItemValue(t, newStore(t), "k", string([]byte{writers}), writers)
		})
	}
}

// meddling is a cas.Store whose every write first loses to another writer:
// Create finds the key created meanwhile (cas.ErrExists), CompareAndSwap
// finds it deleted meanwhile (cas.ErrNotFound).
type meddling struct{ *cas.Memory }

func (m meddling) Create(ctx context.Context, key string, value []byte) (cas.Item, error) {
	if _, err := m.Memory.Create(ctx, key, value); err != nil {
		return cas.Item{}, err
	}
	return m.Memory.Create(ctx, key, value)
}

func (m meddling) CompareAndSwap(ctx context.Context, key string, version uint64, value []byte) (cas.Item, error) {
	if err := m.Memory.CompareAndDelete(ctx, key, version); err != nil {
		return cas.Item{}, err
	}
	return m.Memory.CompareAndSwap(ctx, key, version, value)
}

// TestItemUpdateGiveUpIsConflict: when the item keeps changing, the error
// wraps cas.ErrConflict, whichever error the last round met, and only
// mentions a cas.ErrExists or cas.ErrNotFound cause.
func TestItemUpdateGiveUpIsConflict(t *testing.T) {
	ctx := t.Context()
	guard := fence.Item{MaxAttempts: 1}

	_, err := guard.Update(ctx, meddling{cas.NewMemory()}, "k", 5, []byte("v"))
	if !errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrExists) || !strings.Contains(err.Error(), cas.ErrExists.Error()) {
		t.Fatalf("Update that always meets a create: %v, want cas.ErrConflict mentioning (not wrapping) ErrExists", err)
	}
	t.Log(err)

	s := cas.NewMemory()
	if _, err := guard.Update(ctx, s, "k", 5, []byte("v")); err != nil {
		t.Fatal(err)
	}
	_, err = guard.Update(ctx, meddling{s}, "k", 6, []byte("w"))
	if !errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) || !strings.Contains(err.Error(), cas.ErrNotFound.Error()) {
		t.Fatalf("Update that always meets a delete: %v, want cas.ErrConflict mentioning (not wrapping) ErrNotFound", err)
	}
	t.Log(err)
}
