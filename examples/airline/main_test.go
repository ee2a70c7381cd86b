package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAirline(t *testing.T) {
	reports := workloadtest.Check(t, program, "-passengers", "40", "-seats", "8", "-stalled", "2",
		"-stall", "200ms", "-hold", "60ms", "-ttl", "30ms")
	hold := reports[1]
	if hold.OK > 8 {
		t.Errorf("%s sold %d seats of 8", hold.Strategy, hold.OK)
	}
	// Both stalled payers lost their hold and were refused at confirmation.
	const want = "2 payments hung: 2 holds expired, 2 late confirmations refused"
	if hold.Note != want {
		t.Errorf("%s: %q, want %q", hold.Strategy, hold.Note, want)
	}
}

func TestAirlineBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-seats", "0"},
		[]string{"-stalled", "13"},
		[]string{"-stall", "10ms"},
		[]string{"-ttl", "0s"},
		[]string{"-lock", "carrier-pigeon"},
	)
}
