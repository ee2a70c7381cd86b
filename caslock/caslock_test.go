package caslock_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/internal/storeenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLocker is a Locker on store, or fails t.
func newLocker(t *testing.T, store cas.Store, opts ...caslock.Option) *caslock.Locker {
	t.Helper()
	l, err := caslock.New(store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestConformance runs the suite on each Store in turn (not in parallel:
// locktest checks for leaked goroutines when it ends).
func TestConformance(t *testing.T) {
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			newStore := b.Setup(t)
			locktest.Run(t, locktest.Harness{
				NewLocker: func(t *testing.T) lock.Locker { return newLocker(t, newStore(t)) },
			})
		})
	}
}
