package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSeatBooking(t *testing.T) {
	reports := workloadtest.Check(t, program, "-buyers", "100", "-seats", "10")
	for _, r := range reports[1:] {
		if r.OK > 10 {
			t.Errorf("%s confirmed %d bookings for 10 seats", r.Strategy, r.OK)
		}
	}
}

func TestSeatBookingBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-buyers", "0"},
		[]string{"-payment", "-1s"},
		[]string{"-lock", "nosuch"},
		[]string{"-lock", "redis", "-redis", ""},
		[]string{"-lock", "redis", "-redis", " , "},
		[]string{"-store", "postgres", "-postgres", ""},
		[]string{"-seats", "x"},
		[]string{"extra"},
	)
}
