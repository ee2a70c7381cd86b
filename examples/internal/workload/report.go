package workload

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is what one strategy did in one run.
type Report struct {
	// Strategy names the strategy, e.g. "unprotected", "lock", "occ".
	Strategy string
	// Protected is false for the run that shows the race.
	Protected bool
	// OK and Refused count the operations that succeeded and those the
	// business rules turned down.
	OK, Refused int
	// Violation names what went wrong, e.g. "double-booked"; Violations counts
	// it. A protected strategy must report zero.
	Violation  string
	Violations int
	// Conflicts and Retries count optimistic writes lost to another writer
	// and operations redone.
	Conflicts, Retries int
	// Waits summarizes the time spent waiting for locks or in backoff.
	Waits Waits
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Note is a detail of the case, such as the money in the bank before and
	// after.
	Note string
}

// Throughput is the operations handled (succeeded or refused) per second.
func (r Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK+r.Refused) / r.Elapsed.Seconds()
}

// String is the one-line summary the programs print.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s ok %4d  refused %4d  %s %4d  conflicts %4d  retries %4d  wait %s  %7.0f ops/s  %v",
		r.Strategy, r.OK, r.Refused, r.Violation, r.Violations, r.Conflicts, r.Retries,
		r.Waits, r.Throughput(), r.Elapsed.Round(time.Millisecond))
	if r.Note != "" {
		b.WriteString("  ")
		b.WriteString(r.Note)
	}
	return b.String()
}

// Waits is a summary of recorded waits.
type Waits struct {
	// N counts the waits recorded.
	N int
	// P50, P99 and Max are percentiles of the waits.
	P50, P99, Max time.Duration
}

// String prints the percentiles, or "-" when nothing waited.
func (w Waits) String() string {
	if w.N == 0 {
		return fmt.Sprintf("%-30s", "-")
	}
	return fmt.Sprintf("p50 %-8v p99 %-8v max %-8v", round(w.P50), round(w.P99), round(w.Max))
}

func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

func summarize(waits []time.Duration) Waits {
	if len(waits) == 0 {
		return Waits{}
	}
	s := slices.Clone(waits)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return Waits{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}
