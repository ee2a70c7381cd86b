package main

import (
	"slices"
	"time"
)

// cellResult is the outcome of one cell, or the median of repetitions.
type cellResult struct {
	Contender  string  `json:"contender"`
	Backend    string  `json:"backend"`
	Kind       kind    `json:"kind"`
	N          int     `json:"n"`
	Rep        int     `json:"rep,omitempty"`  // 1-based; 0 in a median line
	Reps       int     `json:"reps,omitempty"` // in a median line
	Seconds    float64 `json:"seconds"`
	Grants     int     `json:"grants"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	AcqP50us   float64 `json:"acquire_p50_us"`
	AcqP99us   float64 `json:"acquire_p99_us"`
	RelP50us   float64 `json:"release_p50_us"`
	RelP99us   float64 `json:"release_p99_us"`
	Handoffs   int     `json:"handoffs"`
	HandP50us  float64 `json:"handoff_p50_us"` // -1 without handoffs
	HandP99us  float64 `json:"handoff_p99_us"`
	Fairness   float64 `json:"busiest_share_vs_fair"` // the busiest contender's grants / (grants / N)
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Overlaps   int64   `json:"overlaps"`     // grants seen while another holder was inside
	TokenErrs  int64   `json:"token_errors"` // fencing tokens that did not increase
	CPUPerOpUs float64 `json:"cpu_per_op_us"`
	Failed     string  `json:"failed,omitempty"` // the cell could not run
}

// summarize turns the contenders' samples into a cellResult.
func summarize(cfg cellConfig, samples []sample, overlaps, tokenErrs int64, cpu time.Duration) cellResult {
	r := cellResult{
		Contender: cfg.spec.name, Backend: cfg.spec.backend, Kind: cfg.spec.kind, N: cfg.n,
		Seconds: cfg.duration.Seconds(), Overlaps: overlaps, TokenErrs: tokenErrs,
	}
	var acq, rel, hand []time.Duration
	busiest := 0
	for _, s := range samples {
		acq = append(acq, s.acquire...)
		rel = append(rel, s.release...)
		hand = append(hand, s.handoff...)
		r.Grants += s.grants
		r.Errors += s.errs
		busiest = max(busiest, s.grants)
		if s.err != nil && r.FirstError == "" {
			r.FirstError = s.err.Error()
		}
	}
	r.OpsPerSec = float64(r.Grants) / cfg.duration.Seconds()
	r.AcqP50us, r.AcqP99us = percentileUs(acq, 0.50), percentileUs(acq, 0.99)
	r.RelP50us, r.RelP99us = percentileUs(rel, 0.50), percentileUs(rel, 0.99)
	r.Handoffs = len(hand)
	r.HandP50us, r.HandP99us = percentileUs(hand, 0.50), percentileUs(hand, 0.99)
	if r.Grants > 0 {
		r.Fairness = float64(busiest) / (float64(r.Grants) / float64(cfg.n))
		r.CPUPerOpUs = float64(cpu.Microseconds()) / float64(r.Grants)
	}
	return r
}

// percentileUs is the nearest-rank percentile p of ds in µs, -1 when empty.
func percentileUs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Nanoseconds()) / 1e3
}

// median combines repetitions of one cell: ops/s and CPU per grant over all
// of them together, the median of each other figure, the sum of errors,
// overlaps and token errors (any is one too many).
func median(reps []cellResult) cellResult {
	var ok []cellResult
	for _, r := range reps {
		if r.Failed == "" {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		m := reps[0]
		m.Rep, m.Reps = 0, len(reps)
		return m
	}
	m := ok[0]
	m.Rep, m.Reps = 0, len(reps)
	med := func(f func(cellResult) float64) float64 {
		var v []float64
		for _, r := range ok {
			if x := f(r); x >= 0 {
				v = append(v, x)
			}
		}
		if len(v) == 0 {
			return -1
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	// Throughput is pooled, all grants over all measured time: at N = 1 the
	// repetitions are short and many, and the round trips of this VM switch
	// between two speeds from one to the next, so a median would pick one
	// mode or the other by chance where the mean weighs them as they came.
	var seconds, grants, cpuUs float64
	for _, r := range ok {
		seconds += r.Seconds
		grants += float64(r.Grants)
		cpuUs += r.CPUPerOpUs * float64(r.Grants)
	}
	m.OpsPerSec = grants / seconds
	m.Seconds = seconds
	m.AcqP50us = med(func(r cellResult) float64 { return r.AcqP50us })
	m.AcqP99us = med(func(r cellResult) float64 { return r.AcqP99us })
	m.RelP50us = med(func(r cellResult) float64 { return r.RelP50us })
	m.RelP99us = med(func(r cellResult) float64 { return r.RelP99us })
	m.HandP50us = med(func(r cellResult) float64 { return r.HandP50us })
	m.HandP99us = med(func(r cellResult) float64 { return r.HandP99us })
	m.Fairness = med(func(r cellResult) float64 { return r.Fairness })
	m.CPUPerOpUs = -1
	if grants > 0 {
		m.CPUPerOpUs = cpuUs / grants
	}
	m.Grants, m.Handoffs, m.Errors, m.Overlaps, m.TokenErrs = 0, 0, 0, 0, 0
	for _, r := range reps {
		m.Grants += r.Grants
		m.Handoffs += r.Handoffs
		m.Errors += r.Errors
		m.Overlaps += r.Overlaps
		m.TokenErrs += r.TokenErrs
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		if r.Failed != "" && m.Failed == "" {
			m.Failed = r.Failed
		}
	}
	return m
}
