package eventsource_test

import (
	"testing"

	"github.com/racefree/racefree/eventsource/estest"
	"github.com/racefree/racefree/internal/storeenv"
)

// TestConformance runs the event store's suite on every cas.Store backend,
// each on its real server.
func TestConformance(t *testing.T) {
	for _, b := range storeenv.All() {
		t.Run(b.Name, func(t *testing.T) {
			estest.Run(t, b.Setup(t))
		})
	}
}
