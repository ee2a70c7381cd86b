// Command lockbench compares racefree's Lockers with the libraries users
// would otherwise pick, and with the raw protocol of each server, on the same
// servers in the same run.
//
// For each contender and each N, N goroutines, each with its own client or
// connection as separate processes would have, take one key in turn for a
// fixed time: a holder keeps the lock for -hold (when N > 1), then releases
// it. Each cell reports acquire+release operations per second, acquire
// latency p50/p99, handoff latency p50/p99 (from the holder's release call
// to the grant to a different contender), the busiest contender's share of
// the grants against the fair share, errors, and overlaps: grants seen while
// an in-process "inside" counter says another holder is still inside, and,
// for fencing contenders, tokens that did not increase. Overlaps must be 0.
//
// The servers come from the RACEFREE_* variables of scripts/services.sh
// (`make bench-compare` starts them). Output: a table on stdout, with the
// median of the repetitions, and JSON lines (-json) with every repetition
// and every median.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lockbench:", err)
		os.Exit(1)
	}
}

type flags struct {
	duration, duration1, hold, hold1, floorPoll, grace, warmup, prewarm time.Duration
	reps, reps1                                                         int
	ns                                                                  []int
	only, jsonPath, cpuProfile                                          string
	list, etcdCompact                                                   bool
}

func parseFlags() (flags, error) {
	var f flags
	var ns string
	flag.DurationVar(&f.duration, "d", time.Second, "measured time per cell")
	flag.IntVar(&f.reps, "reps", 3, "repetitions of every cell with N > 1")
	flag.DurationVar(&f.duration1, "d1", 200*time.Millisecond, "measured time per repetition of a cell with N = 1")
	flag.IntVar(&f.reps1, "reps1", 15, "repetitions of every cell with N = 1 (shorter, more of them: see RESULTS.md)")
	flag.StringVar(&ns, "n", "1,2,8,32", "comma-separated numbers of contenders (2: the most common contention, one waiter behind the holder)")
	flag.StringVar(&f.only, "only", "", "comma-separated filter: contender name substrings or backends (redis, redis×5, etcd, zookeeper, postgres)")
	flag.DurationVar(&f.hold, "hold", time.Millisecond, "how long a holder keeps the lock when N > 1")
	flag.DurationVar(&f.hold1, "hold1", 0, "how long the holder keeps the lock when N = 1")
	flag.DurationVar(&f.floorPoll, "floor-poll", time.Millisecond, "the floors poll a taken key after a random pause up to this")
	flag.DurationVar(&f.warmup, "warmup", 300*time.Millisecond, "an unmeasured run of every cell before its measured one")
	flag.DurationVar(&f.prewarm, "prewarm", 500*time.Millisecond, "an unmeasured run of every contender, 8 of it at once, before any cell: servers just started (ZooKeeper's JVM, above all) are slower for their first seconds")
	flag.DurationVar(&f.grace, "grace", 15*time.Second, "how long a cell may take to wind down after its end")
	flag.StringVar(&f.jsonPath, "json", "", "write JSON lines (every repetition, then the medians) to this file")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&f.list, "list", false, "list the contenders and exit")
	flag.BoolVar(&f.etcdCompact, "etcd-compact", true, "compact etcd's history before every etcd cell, as a production etcd is kept")
	flag.Parse()
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return f, fmt.Errorf("-n %q: want positive integers separated by commas", ns)
		}
		f.ns = append(f.ns, n)
	}
	if f.duration <= 0 || f.duration1 <= 0 || f.reps < 1 || f.reps1 < 1 || f.hold < 0 || f.hold1 < 0 || f.floorPoll < 0 {
		return f, fmt.Errorf("-d, -d1, -reps and -reps1 must be positive, -hold, -hold1 and -floor-poll not negative")
	}
	return f, nil
}

func run() error {
	f, err := parseFlags()
	if err != nil {
		return err
	}
	if f.list {
		for _, s := range specs() {
			fmt.Printf("%-22s %-10s %-9s %s\n", s.name, s.backend, s.kind, s.note)
		}
		return nil
	}
	chosen, err := selectSpecs(specs(), f.only)
	if err != nil {
		return err
	}
	e, err := loadEnv()
	if err != nil {
		return err
	}
	for _, s := range chosen {
		if err := e.need(s.backend); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	floorPollMax = f.floorPoll

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	checked := map[string]bool{}
	for _, s := range chosen {
		if !checked[s.backend] {
			checked[s.backend] = true
			if err := e.reachable(ctx, s.backend); err != nil {
				return err
			}
		}
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var jsonOut io.Writer = io.Discard
	if f.jsonPath != "" {
		jf, err := os.Create(f.jsonPath)
		if err != nil {
			return err
		}
		defer jf.Close()
		jsonOut = jf
	}
	enc := json.NewEncoder(jsonOut)

	m := describeMachine(ctx, e, chosen)
	m.Started = time.Now().UTC().Format(time.RFC3339)
	m.Duration, m.Reps, m.Ns, m.Hold, m.Hold1 = f.duration.String(), f.reps, f.ns, f.hold.String(), f.hold1.String()
	m.Duration1, m.Reps1 = f.duration1.String(), f.reps1
	m.LoadStart = loadAvg()
	for _, s := range chosen {
		m.EtcdCompacted = m.EtcdCompacted || (f.etcdCompact && s.backend == "etcd")
	}

	runID := time.Now().UnixNano() % 1e9
	if f.prewarm > 0 {
		m.Prewarm = f.prewarm.String()
		if err := prewarm(ctx, e, chosen, f, runID); err != nil {
			return err
		}
	}
	results := map[string][]cellResult{}
	var order []string
	for rep := 1; rep <= max(f.reps, f.reps1); rep++ {
		for _, s := range rotate(chosen, rep-1) {
			for _, n := range f.ns {
				id := fmt.Sprintf("%s|%d", s.name, n)
				if rep == 1 {
					order = append(order, id)
				}
				cfg := cellConfig{spec: s, n: n, duration: f.duration, hold: f.hold, grace: f.grace, warmup: f.warmup,
					key: fmt.Sprintf("lb%d-%s-n%d-r%d", runID, keySafe(s.name), n, rep)}
				switch {
				case n == 1 && rep > f.reps1, n > 1 && rep > f.reps:
					continue
				case n == 1:
					cfg.hold, cfg.duration, cfg.warmup = f.hold1, f.duration1, min(f.warmup, f.duration1/2)
				}
				if s.backend == "etcd" && f.etcdCompact {
					if err := compactEtcd(ctx, e); err != nil {
						return fmt.Errorf("compact etcd before %s: %w", id, err)
					}
				}
				r, err := runCell(ctx, e, cfg)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					r = cellResult{Contender: s.name, Backend: s.backend, Kind: s.kind, N: n, Failed: err.Error()}
				}
				r.Rep = rep
				results[id] = append(results[id], r)
				_ = enc.Encode(r)
				progress(os.Stderr, r)
			}
		}
	}
	m.LoadEnd = loadAvg()
	m.Finished = time.Now().UTC().Format(time.RFC3339)

	var medians []cellResult
	for _, id := range order {
		r := median(results[id])
		medians = append(medians, r)
		_ = enc.Encode(r)
	}
	_ = enc.Encode(m)
	printMachine(os.Stdout, m)
	printTable(os.Stdout, medians)
	bad := printTargets(os.Stdout, medians)
	if bad > 0 {
		return fmt.Errorf("%d cells saw overlapping holders or non-increasing fencing tokens", bad)
	}
	return nil
}

// prewarm runs every contender of chosen, 8 of it at once, for f.prewarm,
// unmeasured: each in turn, so that every server has run each client's
// requests for a while before the first measured cell.
func prewarm(ctx context.Context, e *env, chosen []spec, f flags, runID int64) error {
	for _, s := range chosen {
		fmt.Fprintf(os.Stderr, "prewarm %s for %v\n", s.name, f.prewarm)
		cfg := cellConfig{spec: s, n: 8, duration: f.prewarm, hold: f.hold, grace: f.grace,
			key: fmt.Sprintf("lb%d-prewarm-%s", runID, keySafe(s.name))}
		if _, err := runCell(ctx, e, cfg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("prewarm of %s: %w", s.name, err)
		}
	}
	return nil
}

func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

func progress(w io.Writer, r cellResult) {
	if r.Failed != "" {
		fmt.Fprintf(w, "rep %d %-22s N=%-2d FAILED: %s\n", r.Rep, r.Contender, r.N, r.Failed)
		return
	}
	fmt.Fprintf(w, "rep %d %-22s N=%-2d %8.0f ops/s  handoff p99 %s  errors %d  overlaps %d  (load %s)\n",
		r.Rep, r.Contender, r.N, r.OpsPerSec, us(r.HandP99us), r.Errors, r.Overlaps+r.TokenErrs, loadAvg())
}

// rotate returns specs starting at the k-th (modulo their number): each
// repetition starts at the next contender, so that no contender always runs
// first, right after another backend's cells or the previous round's last
// cell (on this VM, the loopback's speed changes from one cell to the next,
// and a fixed order gave the first contender of every round the same luck).
func rotate(specs []spec, k int) []spec {
	if len(specs) == 0 {
		return nil
	}
	k %= len(specs)
	return append(slices.Clone(specs[k:]), specs[:k]...)
}

// sortedBackends lists the backends of rs in first-seen order.
func sortedBackends(rs []cellResult) []string {
	var bs []string
	for _, r := range rs {
		if !slices.Contains(bs, r.Backend) {
			bs = append(bs, r.Backend)
		}
	}
	return bs
}
