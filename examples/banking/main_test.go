package main

import (
	"testing"

	"github.com/racefree/racefree/examples/internal/workload/workloadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBanking(t *testing.T) {
	reports := workloadtest.Check(t, program, "-transfers", "120", "-accounts", "6", "-balance", "300")
	locked := reports[1]
	if want := "money 1800 -> 1800 (+0), 0 negative balances"; locked.Note != want {
		t.Errorf("%s: %q, want %q", locked.Strategy, locked.Note, want)
	}
}

func TestBankingBadArgs(t *testing.T) {
	workloadtest.CheckBadArgs(t, program,
		[]string{"-accounts", "1"},
		[]string{"-balance", "-5"},
		[]string{"-balance", "0"},
		[]string{"-think", "forever"},
		[]string{"-lock", "vault"},
	)
}
