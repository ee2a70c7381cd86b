package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/lock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memorySpec runs contenders on one in-process lock.NewMemory Locker.
func memorySpec() spec {
	l := lock.NewMemory()
	return spec{name: "memory", backend: "memory", kind: kindRacefree, fencing: true,
		open: func(context.Context, *env, string) (mutex, error) {
			return &leaseMutex{locker: l, key: "k"}, nil
		}}
}

// noLock grants every Lock at once: a broken lock the cell must catch.
type noLock struct{ token uint64 }

func (n *noLock) Lock(context.Context) (uint64, error) { n.token++; return n.token, nil }
func (*noLock) Unlock(context.Context) error           { return nil }
func (*noLock) Close() error                           { return nil }

func testCell(s spec, n int) cellConfig {
	return cellConfig{spec: s, n: n, duration: 300 * time.Millisecond, hold: time.Millisecond, grace: 5 * time.Second, key: "k"}
}

func TestCellMeasuresACorrectLock(t *testing.T) {
	r, err := runCell(context.Background(), &env{}, testCell(memorySpec(), 4))
	if err != nil {
		t.Fatal(err)
	}
	if r.Overlaps != 0 || r.TokenErrs != 0 || r.Errors != 0 {
		t.Fatalf("a correct lock: overlaps %d, token errors %d, errors %d (%s)", r.Overlaps, r.TokenErrs, r.Errors, r.FirstError)
	}
	if r.Grants < 20 || r.Handoffs == 0 || r.HandP99us < r.HandP50us || r.HandP50us < 0 {
		t.Fatalf("implausible figures: %+v", r)
	}
	// FIFO in-memory lock: every contender gets its turn.
	if r.Fairness > 1.5 {
		t.Fatalf("FIFO lock: busiest contender %.2f× its fair share", r.Fairness)
	}
}

func TestCellWarmUpIsNotMeasured(t *testing.T) {
	cfg := testCell(memorySpec(), 4)
	cfg.warmup = cfg.duration
	r, err := runCell(context.Background(), &env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A holder keeps the key 1 ms: one run has room for at most
	// duration/hold grants, the two runs together for twice that.
	if most := int(cfg.duration / cfg.hold); r.Grants > most || r.Grants < most/4 {
		t.Fatalf("%d grants in a %v run with %v holds (at most %d): the warm-up was counted, or nothing was",
			r.Grants, cfg.duration, cfg.hold, most)
	}
	if r.Overlaps != 0 || r.TokenErrs != 0 {
		t.Fatalf("overlaps %d, token errors %d", r.Overlaps, r.TokenErrs)
	}
}

func TestCellCatchesOverlapsAndStaleTokens(t *testing.T) {
	s := spec{name: "broken", backend: "memory", kind: kindRacefree, fencing: true,
		open: func(context.Context, *env, string) (mutex, error) { return &noLock{}, nil }}
	r, err := runCell(context.Background(), &env{}, testCell(s, 4))
	if err != nil {
		t.Fatal(err)
	}
	if r.Overlaps == 0 {
		t.Fatal("a lock that grants everyone at once showed no overlap")
	}
	if r.TokenErrs == 0 {
		t.Fatal("per-contender counters as tokens did not show as non-increasing")
	}
}

func TestMedianAddsFailuresAndTakesMiddleValues(t *testing.T) {
	m := median([]cellResult{
		{Seconds: 1, Grants: 10, OpsPerSec: 10, CPUPerOpUs: 50, HandP99us: -1, Overlaps: 1},
		{Seconds: 1, Grants: 30, OpsPerSec: 30, CPUPerOpUs: 10, HandP99us: 5},
		{Seconds: 2, Grants: 40, OpsPerSec: 20, CPUPerOpUs: 20, HandP99us: 7, Errors: 2},
	})
	// Throughput and CPU per grant are pooled: 80 grants in 4 s, (500 + 300
	// + 800) µs of CPU for them.
	if m.OpsPerSec != 20 || m.CPUPerOpUs != 20 || m.HandP99us != 6 || m.Overlaps != 1 || m.Errors != 2 || m.Reps != 3 {
		t.Fatalf("median: %+v", m)
	}
}

func TestSelectSpecs(t *testing.T) {
	got, err := selectSpecs(specs(), "etcd,pgx")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.name)
	}
	if len(names) != 4 { // racefree/etcd, etcd/concurrency, floor/etcd, pgx/advisory
		t.Fatalf("selected %v", names)
	}
	if _, err := selectSpecs(specs(), "nothing-like-this"); err == nil {
		t.Fatal("a filter that matches nothing was accepted")
	}
}

// Every repetition starts at the next contender, so that over the
// repetitions each contender runs in each place of the round equally often.
func TestRotateStartsEachRepetitionAtTheNextContender(t *testing.T) {
	all := []spec{{name: "a"}, {name: "b"}, {name: "c"}}
	first := map[string]int{}
	for rep := range 6 {
		round := rotate(all, rep)
		var names []string
		for _, s := range round {
			names = append(names, s.name)
		}
		if len(names) != 3 || names[0] == names[1] || names[1] == names[2] || names[0] == names[2] {
			t.Fatalf("repetition %d runs %v, want each contender once", rep, names)
		}
		first[names[0]]++
	}
	for _, s := range all {
		if first[s.name] != 2 {
			t.Fatalf("first in a round: %v, want each contender twice in 6 repetitions", first)
		}
	}
	if got := rotate(nil, 3); len(got) != 0 {
		t.Fatalf("rotate(nil) = %v", got)
	}
	if all[0].name != "a" {
		t.Fatal("rotate reordered its input")
	}
}
