package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTrading(t *testing.T) {
	reports := workloadtest.Check(t, program, "-traders", "100", "-symbols", "4", "-shares", "40")
	occ := reports[1]
	if occ.Conflicts == 0 {
		t.Errorf("%s: no conflicts among 25 concurrent orders per book", occ.Strategy)
	}
	// 100 orders of 1 to 5 shares want 300 shares; 160 are offered, so some
	// orders find the book empty.
	if occ.Refused == 0 {
		t.Errorf("%s: every order was filled from books that cannot fill them all", occ.Strategy)
	}
}

func TestTradingBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-traders", "0"},
		[]string{"-shares", "-3"},
		[]string{"-match", "soon"},
		[]string{"-store", "spreadsheet"},
	)
}
