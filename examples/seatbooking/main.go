// Command seatbooking sells a few seats to many concurrent buyers three ways:
// with no protection (and counts the double bookings that causes), under a
// lock per seat, and with optimistic compare-and-swap. It runs in-process on
// racefree's in-memory backends; no servers are needed.
//
//	go run ./examples/seatbooking -buyers 300 -seats 20
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.buyers, "buyers", 300, "concurrent buyers")
	flag.IntVar(&cfg.seats, "seats", 20, "seats on sale")
	flag.DurationVar(&cfg.payment, "payment", 2*time.Millisecond, "time between checking a seat and booking it")
	flag.Parse()
	if _, err := demo(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "seatbooking:", err)
		os.Exit(1)
	}
}

// demo runs the three strategies and prints one line each.
func demo(ctx context.Context, w io.Writer, cfg config) ([]result, error) {
	if cfg.buyers < 1 || cfg.seats < 1 || cfg.payment < 0 {
		return nil, fmt.Errorf("need at least one buyer and one seat and a payment time of zero or more (got %d, %d, %v)", cfg.buyers, cfg.seats, cfg.payment)
	}
	var results []result
	fmt.Fprintf(w, "%d buyers, %d seats, %v between check and booking\n", cfg.buyers, cfg.seats, cfg.payment)
	for _, s := range []struct {
		name string
		buy  func(context.Context, *theatre, int, int, *counters) error
	}{
		{"unprotected", unprotected(cfg)},
		{"lock", withLock(cfg, lock.NewMemory())},
		{"occ", withOCC(cfg, cas.NewMemory())},
	} {
		r, err := run(ctx, cfg, s.name, s.buy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintln(w, r)
		results = append(results, r)
	}
	return results, nil
}
