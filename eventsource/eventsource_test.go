package eventsource_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/eventsource/estest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemoryConformance(t *testing.T) {
	kv := cas.NewMemory()
	estest.Run(t, func(*testing.T) cas.Store { return kv })
}
