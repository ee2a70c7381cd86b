package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatchmaking(t *testing.T) {
	reports := workloadtest.Check(t, program, "-matchmakers", "40", "-players", "50", "-size", "4")
	if len(reports) != 3 {
		t.Fatalf("ran %d strategies, want unprotected, lock and cas", len(reports))
	}
	for _, r := range reports[1:] {
		if r.OK+r.Refused != 40 || r.OK*4 > 50 {
			t.Errorf("%s: %d games started and %d refused, from 40 matchmakers and 50 players", r.Strategy, r.OK, r.Refused)
		}
	}
}

func TestMatchmakingBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-players", "3", "-size", "4"},
		[]string{"-strategy", "first-come"},
		[]string{"-size", "0"},
	)
}
