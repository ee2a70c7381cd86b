package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFoodDelivery(t *testing.T) {
	reports := workloadtest.Check(t, program, "-orders", "100", "-restaurants", "4", "-capacity", "10")
	cas := reports[1]
	if cas.OK != 40 || cas.Note != "kitchens took 40 orders, counters say 40" {
		t.Errorf("%s: %d accepted, %q; want every kitchen full and counted", cas.Strategy, cas.OK, cas.Note)
	}
	if cas.Conflicts == 0 {
		t.Errorf("%s: no conflicts among 25 orders per restaurant", cas.Strategy)
	}
}

func TestFoodDeliveryBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-orders", "0"},
		[]string{"-capacity", "-1"},
		[]string{"-store", "fridge"},
	)
}

// With more capacity than orders no kitchen is overbooked, but the
// unprotected run still loses orders from the counters: that counts as a
// violation.
func TestFoodDeliveryCountsLostOrders(t *testing.T) {
	workloadtest.Check(t, program, "-orders", "40", "-capacity", "15")
}
