package castest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

const (
	counterWriters    = 8
	counterIncrements = 25
)

// testConcurrentCounter has writers on two Stores increment one counter
// through occ.Update. Every successful increment must be counted exactly once:
// the final value and version equal the number of successful writes, and each
// write returned a distinct version holding its own count. A writer that runs
// out of attempts must say so with occ.ErrTooManyConflicts, nothing else.
func testConcurrentCounter(t *testing.T, h Harness) {
	ctx, key := testContext(t), newKey(t, "counter")
	stores := []cas.Store{h.NewStore(t), h.NewStore(t)}

	var (
		mu        sync.Mutex
		versions  = make(map[uint64]bool)
		successes int
		conflicts int
		wg        sync.WaitGroup
	)
	errs := make(chan error, counterWriters*counterIncrements)
	for w := range counterWriters {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for range counterIncrements {
				it, st, err := occ.Update(ctx, s, key, increment, occ.CreateIfMissing(), occ.WithMaxAttempts(50))
				mu.Lock()
				conflicts += st.Conflicts
				if err == nil {
					successes++
					if versions[it.Version] {
						errs <- errors.New("two increments returned version " + strconv.FormatUint(it.Version, 10))
					}
					versions[it.Version] = true
					if string(it.Value) != strconv.FormatUint(it.Version, 10) {
						errs <- errors.New("increment returned value " + string(it.Value) + " at version " + strconv.FormatUint(it.Version, 10))
					}
				} else if !errors.Is(err, occ.ErrTooManyConflicts) {
					errs <- err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if successes == 0 {
		t.Fatal("no increment succeeded")
	}
	want := strconv.Itoa(successes)
	for _, s := range stores {
		wantState(t, ctx, s, key, []byte(want), uint64(successes))
	}
	t.Logf("%d of %d increments succeeded after %d conflicts", successes, counterWriters*counterIncrements, conflicts)
}

// increment adds one to a decimal counter; a missing counter counts as zero.
func increment(cur cas.Item) ([]byte, error) {
	n := 0
	if cur.Version != 0 {
		var err error
		if n, err = strconv.Atoi(string(cur.Value)); err != nil {
			return nil, err
		}
	}
	return []byte(strconv.Itoa(n + 1)), nil
}
