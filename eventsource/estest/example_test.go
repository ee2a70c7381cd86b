package estest_test

import (
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource/estest"
)

// A Store adapter proves that event streams keep their guarantees on it.
func ExampleRun() {
	conformance := func(t *testing.T) {
		shared := cas.NewMemory()
		estest.Run(t, func(*testing.T) cas.Store { return shared })
	}
	_ = conformance // in a _test.go file: func TestEventSource(t *testing.T) { ... }
}
