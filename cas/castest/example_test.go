package castest_test

import (
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/castest"
)

// An adapter's test proves its Store with a harness whose stores share one
// namespace per test. cas.NewMemory stands in for an adapter here.
func ExampleRun() {
	conformance := func(t *testing.T) {
		shared := cas.NewMemory()
		castest.Run(t, castest.Harness{
			NewStore: func(*testing.T) cas.Store { return shared },
		})
	}
	_ = conformance // in a _test.go file: func TestConformance(t *testing.T) { ... }
}
