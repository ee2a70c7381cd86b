package occ_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// noWait makes conflict tests fast; the default backoff is tested apart.
var noWait = occ.WithBackOff(func() backoff.BackOff { return &backoff.ZeroBackOff{} })

func newCounter(t *testing.T, value string) (*cas.Memory, string) {
	t.Helper()
	s := cas.NewMemory()
	if _, err := s.Create(t.Context(), "counter", []byte(value)); err != nil {
		t.Fatal(err)
	}
	return s, "counter"
}

func increment(cur cas.Item) ([]byte, error) {
	n, err := strconv.Atoi(string(cur.Value))
	if cur.Version == 0 {
		n, err = 0, nil
	}
	return []byte(strconv.Itoa(n + 1)), err
}

func wantStats(t *testing.T, got occ.Stats, attempts, conflicts int) {
	t.Helper()
	if got.Attempts != attempts || got.Conflicts != conflicts {
		t.Fatalf("Stats = %+v, want %d attempts and %d conflicts", got, attempts, conflicts)
	}
}

func TestUpdateWithoutConflict(t *testing.T) {
	s, key := newCounter(t, "41")
	it, st, err := occ.Update(t.Context(), s, key, increment)
	if err != nil || string(it.Value) != "42" || it.Version != 2 || it.Key != key {
		t.Fatalf("Update = %+v, %v; want 42 at version 2", it, err)
	}
	wantStats(t, st, 1, 0)
	if st.Waited != 0 {
		t.Fatalf("waited %v without a conflict", st.Waited)
	}
}

// sabotage returns an update function that, on its first n calls, has another
// writer change the item between the read and the write.
func sabotage(t *testing.T, s cas.Store, n int, fn func(cas.Item) ([]byte, error)) (func(cas.Item) ([]byte, error), *int) {
	calls := 0
	return func(cur cas.Item) ([]byte, error) {
		calls++
		if calls <= n {
			if _, err := s.CompareAndSwap(t.Context(), cur.Key, cur.Version, []byte("100")); err != nil {
				t.Errorf("concurrent writer: %v", err)
			}
		}
		return fn(cur)
	}, &calls
}

func TestUpdateRetriesConflicts(t *testing.T) {
	s, key := newCounter(t, "0")
	fn, calls := sabotage(t, s, 3, increment)
	it, st, err := occ.Update(t.Context(), s, key, fn, noWait)
	if err != nil {
		t.Fatal(err)
	}
	// Versions: 1 created, 2..4 the concurrent writes, 5 ours over "100".
	if string(it.Value) != "101" || it.Version != 5 {
		t.Fatalf("Update = %q at version %d, want 101 at version 5", it.Value, it.Version)
	}
	wantStats(t, st, 4, 3)
	if *calls != 4 {
		t.Fatalf("fn called %d times, want 4", *calls)
	}
}

func TestUpdateTooManyConflicts(t *testing.T) {
	s, key := newCounter(t, "0")
	fn, _ := sabotage(t, s, 1000, increment)
	backoffs := 0
	counting := occ.WithBackOff(func() backoff.BackOff {
		backoffs++
		return &backoff.ZeroBackOff{}
	})
	_, st, err := occ.Update(t.Context(), s, key, fn, occ.WithMaxAttempts(3), counting)
	if !errors.Is(err, occ.ErrTooManyConflicts) || !errors.Is(err, cas.ErrConflict) {
		t.Fatalf("Update = %v, want ErrTooManyConflicts wrapping ErrConflict", err)
	}
	t.Log(err)
	wantStats(t, st, 3, 3)
	if backoffs != 1 {
		t.Fatalf("backoff constructed %d times, want once per Update", backoffs)
	}
	got, _ := s.Get(t.Context(), key)
	if string(got.Value) != "100" || got.Version != 4 {
		t.Fatalf("store holds %q at version %d: the failed Update wrote", got.Value, got.Version)
	}
}

func TestUpdateBackOffStop(t *testing.T) {
	s, key := newCounter(t, "0")
	fn, _ := sabotage(t, s, 1000, increment)
	stop := occ.WithBackOff(func() backoff.BackOff { return &backoff.StopBackOff{} })
	_, st, err := occ.Update(t.Context(), s, key, fn, stop)
	if !errors.Is(err, occ.ErrTooManyConflicts) || !errors.Is(err, cas.ErrConflict) {
		t.Fatalf("Update = %v, want ErrTooManyConflicts", err)
	}
	wantStats(t, st, 1, 1)
}

func TestUpdateDefaultBackOffWaits(t *testing.T) {
	s, key := newCounter(t, "0")
	fn, _ := sabotage(t, s, 2, increment)
	_, st, err := occ.Update(t.Context(), s, key, fn)
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, st, 3, 2)
	// Two waits of at least half the 2 ms and 4 ms intervals.
	if st.Waited < 3*time.Millisecond {
		t.Fatalf("waited %v in total, want at least 3ms", st.Waited)
	}
}

func TestUpdateAbort(t *testing.T) {
	s, key := newCounter(t, "7")
	for _, abort := range []error{errors.New("sold out"), cas.ErrConflict} {
		_, st, err := occ.Update(t.Context(), s, key, func(cas.Item) ([]byte, error) { return nil, abort }, noWait)
		if err != abort {
			t.Fatalf("Update = %v, want the function's error %v as it is", err, abort)
		}
		wantStats(t, st, 1, 0)
	}
	got, _ := s.Get(t.Context(), key)
	if string(got.Value) != "7" || got.Version != 1 {
		t.Fatalf("an aborted Update wrote %q at version %d", got.Value, got.Version)
	}
}

func TestUpdateMissing(t *testing.T) {
	s := cas.NewMemory()
	called := false
	_, st, err := occ.Update(t.Context(), s, "nope", func(cas.Item) ([]byte, error) { called = true; return nil, nil })
	if !errors.Is(err, cas.ErrNotFound) || called {
		t.Fatalf("Update of a missing key = %v (fn called: %v), want ErrNotFound without calling fn", err, called)
	}
	wantStats(t, st, 1, 0)
}

func TestUpdateDeletedMeanwhile(t *testing.T) {
	s, key := newCounter(t, "0")
	_, st, err := occ.Update(t.Context(), s, key, func(cur cas.Item) ([]byte, error) {
		if err := s.CompareAndDelete(t.Context(), cur.Key, cur.Version); err != nil {
			t.Errorf("concurrent delete: %v", err)
		}
		return []byte("1"), nil
	}, noWait)
	if !errors.Is(err, cas.ErrNotFound) || errors.Is(err, occ.ErrTooManyConflicts) {
		t.Fatalf("Update of a key deleted meanwhile = %v, want ErrNotFound on the next read", err)
	}
	wantStats(t, st, 2, 1)
}

func TestUpdateCreateIfMissing(t *testing.T) {
	s := cas.NewMemory()
	var seen cas.Item
	it, st, err := occ.Update(t.Context(), s, "new", func(cur cas.Item) ([]byte, error) {
		seen = cur
		return increment(cur)
	}, occ.CreateIfMissing())
	if err != nil || string(it.Value) != "1" || it.Version != 1 {
		t.Fatalf("Update = %+v, %v; want 1 at version 1", it, err)
	}
	if seen.Key != "new" || seen.Version != 0 || seen.Value != nil {
		t.Fatalf("fn saw %+v, want the key at version 0 with a nil value", seen)
	}
	wantStats(t, st, 1, 0)
}

func TestUpdateCreateRace(t *testing.T) {
	s := cas.NewMemory()
	first := true
	it, st, err := occ.Update(t.Context(), s, "new", func(cur cas.Item) ([]byte, error) {
		if first {
			first = false
			if _, err := s.Create(t.Context(), "new", []byte("10")); err != nil {
				t.Errorf("concurrent create: %v", err)
			}
		}
		return increment(cur)
	}, occ.CreateIfMissing(), noWait)
	if err != nil || string(it.Value) != "11" || it.Version != 2 {
		t.Fatalf("Update = %+v, %v; want 11 at version 2", it, err)
	}
	wantStats(t, st, 2, 1)
}

func TestUpdateContext(t *testing.T) {
	s, key := newCounter(t, "0")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, st, err := occ.Update(ctx, s, key, increment)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a cancelled context = %v", err)
	}
	wantStats(t, st, 0, 0)

	// Cancelled during the backoff after a conflict: Update returns at once
	// instead of sleeping an hour.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	fn, _ := sabotage(t, s, 1000, increment)
	hour := occ.WithBackOff(func() backoff.BackOff { return cancelling{cancel} })
	_, st, err = occ.Update(ctx, s, key, fn, hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update cancelled during backoff = %v", err)
	}
	wantStats(t, st, 1, 1)
}

func TestUpdateBadInput(t *testing.T) {
	s, key := newCounter(t, "0")
	ctx := t.Context()
	for name, opt := range map[string]occ.Option{
		"zero attempts":     occ.WithMaxAttempts(0),
		"negative attempts": occ.WithMaxAttempts(-1),
		"nil backoff":       occ.WithBackOff(nil),
	} {
		if _, _, err := occ.Update(ctx, s, key, increment, opt); !errors.Is(err, occ.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, _, err := occ.Update(ctx, nil, key, increment); err == nil {
		t.Error("nil store: no error")
	}
	if _, _, err := occ.Update(ctx, s, key, nil); err == nil {
		t.Error("nil function: no error")
	}
	if _, _, err := occ.Update(ctx, s, "", increment); !errors.Is(err, cas.ErrInvalidKey) {
		t.Errorf("empty key: %v, want ErrInvalidKey", err)
	}
}

// cancelling is a backoff of an hour that cancels the Update's context as it
// starts.
type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) NextBackOff() time.Duration { c.cancel(); return time.Hour }
func (c cancelling) Reset()                     {}

// TestUpdateGiveUpIsConflict: when the last lost round met cas.ErrExists (a
// key created after the read) or cas.ErrNotFound (deleted after the read),
// the give-up error still wraps ErrTooManyConflicts and cas.ErrConflict, and
// only mentions that cause: Update gave up, the key is not missing.
func TestUpdateGiveUpIsConflict(t *testing.T) {
	ctx := t.Context()
	createdMeanwhile := func(s *cas.Memory) func(cas.Item) ([]byte, error) {
		return func(cur cas.Item) ([]byte, error) {
			if _, err := s.Create(ctx, cur.Key, []byte("other")); err != nil {
				t.Errorf("concurrent create: %v", err)
			}
			return []byte("mine"), nil
		}
	}
	deletedMeanwhile := func(s *cas.Memory) func(cas.Item) ([]byte, error) {
		return func(cur cas.Item) ([]byte, error) {
			if err := s.CompareAndDelete(ctx, cur.Key, cur.Version); err != nil {
				t.Errorf("concurrent delete: %v", err)
			}
			return []byte("mine"), nil
		}
	}
	stop := occ.WithBackOff(func() backoff.BackOff { return &backoff.StopBackOff{} })
	for _, c := range []struct {
		name   string
		exists bool
		fn     func(*cas.Memory) func(cas.Item) ([]byte, error)
		cause  error
		opts   []occ.Option
	}{
		{"created meanwhile", false, createdMeanwhile, cas.ErrExists, []occ.Option{occ.CreateIfMissing(), occ.WithMaxAttempts(1)}},
		{"deleted meanwhile", true, deletedMeanwhile, cas.ErrNotFound, []occ.Option{occ.WithMaxAttempts(1)}},
		{"deleted meanwhile, backoff stopped", true, deletedMeanwhile, cas.ErrNotFound, []occ.Option{stop}},
	} {
		s := cas.NewMemory()
		if c.exists {
			if _, err := s.Create(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		_, st, err := occ.Update(ctx, s, "k", c.fn(s), c.opts...)
		if !errors.Is(err, occ.ErrTooManyConflicts) || !errors.Is(err, cas.ErrConflict) || errors.Is(err, c.cause) {
			t.Errorf("%s: Update = %v; want ErrTooManyConflicts and cas.ErrConflict, not %v", c.name, err, c.cause)
		} else if !strings.Contains(err.Error(), c.cause.Error()) {
			t.Errorf("%s: Update = %v; want the cause %q mentioned", c.name, err, c.cause)
		}
		wantStats(t, st, 1, 1)
	}
}

// TestUpdateNilOption: a nil Option is refused, not called.
func TestUpdateNilOption(t *testing.T) {
	s, key := newCounter(t, "0")
	if _, _, err := occ.Update(t.Context(), s, key, increment, noWait, nil); !errors.Is(err, occ.ErrInvalidOption) {
		t.Fatalf("Update with a nil Option: %v, want ErrInvalidOption", err)
	}
	if _, err := occ.Retry(t.Context(), "row", func(context.Context) error { return nil }, nil); !errors.Is(err, occ.ErrInvalidOption) {
		t.Fatalf("Retry with a nil Option: %v, want ErrInvalidOption", err)
	}
}

// TestUpdateNilBackOff: a WithBackOff constructor that returns a nil BackOff
// ends the Update at its first conflict with ErrInvalidOption; nothing of
// the Update is written.
func TestUpdateNilBackOff(t *testing.T) {
	nilBackOff := occ.WithBackOff(func() backoff.BackOff { return nil })
	s, key := newCounter(t, "0")
	fn, _ := sabotage(t, s, 1, increment)
	_, st, err := occ.Update(t.Context(), s, key, fn, nilBackOff)
	if !errors.Is(err, occ.ErrInvalidOption) {
		t.Fatalf("Update with a nil BackOff: %v, want ErrInvalidOption", err)
	}
	wantStats(t, st, 1, 1)
	if got, _ := s.Get(t.Context(), key); string(got.Value) != "100" {
		t.Fatalf("store holds %q, want the concurrent writer's 100", got.Value)
	}

	calls := 0
	st, err = occ.Retry(t.Context(), "row", func(context.Context) error {
		calls++
		return cas.ErrConflict
	}, nilBackOff)
	if !errors.Is(err, occ.ErrInvalidOption) || calls != 1 {
		t.Fatalf("Retry with a nil BackOff: %v after %d calls, want ErrInvalidOption after 1", err, calls)
	}
	wantStats(t, st, 1, 1)
}
