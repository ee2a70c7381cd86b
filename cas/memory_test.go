package cas_test

import (
	"sync"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMemoryConformance runs the conformance suite: the Stores of one test
// share one Memory, as clients of one server share its data.
func TestMemoryConformance(t *testing.T) {
	var (
		mu     sync.Mutex
		shared = map[*testing.T]*cas.Memory{}
	)
	castest.Run(t, castest.Harness{
		NewStore: func(t *testing.T) cas.Store {
			mu.Lock()
			defer mu.Unlock()
			if shared[t] == nil {
				shared[t] = cas.NewMemory()
			}
			return shared[t]
		},
	})
}
