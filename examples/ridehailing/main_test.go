package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRideHailing(t *testing.T) {
	reports := workloadtest.Check(t, program, "-drivers", "100", "-rides", "20")
	if len(reports) != 3 {
		t.Fatalf("ran %d strategies, want unprotected, lock and cas", len(reports))
	}
	for _, r := range reports[1:] {
		if r.OK != 20 || r.Refused != 80 {
			t.Errorf("%s: %d rides assigned, %d drivers turned away; want 20 and 80", r.Strategy, r.OK, r.Refused)
		}
	}
}

func TestRideHailingOneStrategy(t *testing.T) {
	for _, s := range []string{"lock", "cas"} {
		if reports := workloadtest.Check(t, program, "-drivers", "40", "-rides", "10", "-strategy", s); len(reports) != 2 {
			t.Errorf("-strategy %s ran %d strategies, want 2", s, len(reports))
		}
	}
}

func TestRideHailingBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-strategy", "coin-toss"},
		[]string{"-drivers", "0"},
		[]string{"-strategy", "lock", "-lock", "bogus"},
		[]string{"-strategy", "cas", "-store", "bogus"},
	)
}
