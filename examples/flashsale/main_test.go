package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlashSale(t *testing.T) {
	reports := workloadtest.Check(t, program, "-buyers", "120", "-items", "2", "-stock", "20")
	locked := reports[1]
	if locked.OK != 40 || locked.Refused != 80 {
		t.Errorf("%s sold %d and refused %d, want 40 and 80", locked.Strategy, locked.OK, locked.Refused)
	}
	if want := "40 units sold of 40, stock says 0 left"; locked.Note != want {
		t.Errorf("%s: %q, want %q", locked.Strategy, locked.Note, want)
	}
}

func TestFlashSaleBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-items", "0"},
		[]string{"-stock", "-1"},
		[]string{"-checkout", "-1ms"},
		[]string{"-lock", "nope"},
		[]string{"-db", "oracle"},
		[]string{"-db", "mysql", "-mysql", ""},
	)
}

// With more stock than buyers nothing can be oversold, but the unprotected
// run still loses sales from the stock count: that counts as a violation.
func TestFlashSaleCountsLostSales(t *testing.T) {
	workloadtest.Check(t, program, "-buyers", "40", "-items", "1", "-stock", "100")
}
