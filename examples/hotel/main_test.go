package main

import (
	"strings"
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHotel(t *testing.T) {
	reports := workloadtest.Check(t, program, "-guests", "120", "-rooms", "4", "-nights", "3")
	es := reports[1]
	// 12 room-nights, each wanted by 10 guests: 12 bookings, each retried
	// once and applied once, all 12 in the view.
	if es.OK != 12 || es.Retries != 12 {
		t.Errorf("%s: %d bookings, %d retries; want 12 and 12", es.Strategy, es.OK, es.Retries)
	}
	if !strings.HasPrefix(es.Note, "12 retried commands applied once; view has 12 bookings;") {
		t.Errorf("%s: %q", es.Strategy, es.Note)
	}
}

func TestHotelBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-rooms", "0"},
		[]string{"-refresh", "0s"},
		[]string{"-store", "filing-cabinet"},
	)
}
