package main

import (
	"context"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	cfg := config{buyers: 100, seats: 10, payment: 2 * time.Millisecond}
	results, err := demo(context.Background(), io.Discard, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch r.strategy {
		case "unprotected":
			// Every buyer checks a free seat before anyone books: the race shows.
			if r.doubleBooked == 0 {
				t.Errorf("unprotected run caused no double booking: %v", r)
			}
		default:
			if r.doubleBooked != 0 {
				t.Errorf("%s double-booked %d seats", r.strategy, r.doubleBooked)
			}
			if r.confirmed < 1 || r.confirmed > cfg.seats {
				t.Errorf("%s confirmed %d bookings for %d seats", r.strategy, r.confirmed, cfg.seats)
			}
		}
	}
	if len(results) != 3 {
		t.Fatalf("got %d results, want 3", len(results))
	}
}

func TestDemoRejectsBadInput(t *testing.T) {
	if _, err := demo(context.Background(), io.Discard, config{buyers: 0, seats: 1}); err == nil {
		t.Fatal("zero buyers accepted")
	}
}
