// Command airline holds a seat for a passenger while they pay, the way an
// airline does: under a lock with a time-to-live that is renewed while the
// payment is alive and ends when it stalls past the hold time. A payer who
// stalls loses the seat to the next passenger, and the fencing token the seat
// map checks stops the stalled payer from confirming it afterwards.
//
// The same passengers are first run with no hold at all, which sells seats
// twice. By default it runs on the in-memory lock; no servers are needed.
//
//	go run ./examples/airline
//	go run ./examples/airline -lock redis -redis 127.0.0.1:6379
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/lock"
)

func main() { workload.Main(program) }

var program = workload.Program{Name: "airline", Setup: setup}

// config is one run of the workload.
type config struct {
	passengers int           // concurrent passengers; passenger p wants seat p mod seats
	seats      int           // seats on the flight
	stalled    int           // seats whose first payer's payment hangs
	payment    time.Duration // a normal payment
	stall      time.Duration // a hung payment
	hold       time.Duration // the longest a seat is held while paying
	ttl        time.Duration // how soon a crashed payer's hold runs out
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.passengers, "passengers", 60, "concurrent passengers")
	fs.IntVar(&cfg.seats, "seats", 12, "seats on the flight")
	fs.IntVar(&cfg.stalled, "stalled", 3, "seats whose first payer's payment hangs")
	fs.DurationVar(&cfg.payment, "payment", 3*time.Millisecond, "time a normal payment takes")
	fs.DurationVar(&cfg.stall, "stall", 300*time.Millisecond, "time a hung payment takes")
	fs.DurationVar(&cfg.hold, "hold", 100*time.Millisecond, "longest a seat stays held while its payer pays (lock.WithMaxHold)")
	fs.DurationVar(&cfg.ttl, "ttl", 30*time.Millisecond, "lock TTL: how soon the hold of a crashed payer runs out; renewed every third of it")
	backends := backend.Register(fs, backend.Memory, "")
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if err := cfg.validate(); err != nil {
			return nil, err
		}
		header := fmt.Sprintf("%d passengers, %d seats, payments take %v; on %d seats the first payment hangs for %v; holds last at most %v",
			cfg.passengers, cfg.seats, cfg.payment, cfg.stalled, cfg.stall, cfg.hold)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return []workload.Strategy{
				{Name: "unprotected", Run: cfg.run(cfg.unprotected)},
				b.Locked("hold", cfg.checkTTL(b.Locker, cfg.run(cfg.withHold(b.Locker)))),
			}
		})
	}
}

func (cfg config) validate() error {
	switch {
	case cfg.passengers < 1 || cfg.seats < 1:
		return workload.Usagef("need -passengers and -seats of at least 1 (got %d, %d)", cfg.passengers, cfg.seats)
	case cfg.stalled < 0 || cfg.stalled > cfg.seats:
		return workload.Usagef("-stalled must be between 0 and -seats (got %d)", cfg.stalled)
	case cfg.payment < 0 || cfg.ttl <= 0 || cfg.hold <= 0:
		return workload.Usagef("need -payment of 0 or more and positive -ttl and -hold (got %v, %v, %v)", cfg.payment, cfg.ttl, cfg.hold)
	case cfg.stall <= cfg.hold+cfg.ttl:
		return workload.Usagef("-stall (%v) must outlast -hold plus -ttl (%v) for the hold to expire", cfg.stall, cfg.hold+cfg.ttl)
	}
	return nil
}

// checkTTL refuses, before run starts, a -ttl below the Locker's minimum
// (etcd and ZooKeeper leases last seconds, not milliseconds).
func (cfg config) checkTTL(l lock.Locker, run func(context.Context) (workload.Report, error)) func(context.Context) (workload.Report, error) {
	return func(ctx context.Context) (workload.Report, error) {
		if p, ok := lock.PropertiesOf(l); ok && cfg.ttl < p.MinTTL {
			return workload.Report{}, workload.Usagef("-ttl %v is below the %s backend's minimum TTL %v: raise -ttl, and -hold and -stall with it (e.g. -ttl %v -hold %v -stall %v)",
				cfg.ttl, p.Name, p.MinTTL, p.MinTTL, p.MinTTL, 3*p.MinTTL)
		}
		return run(ctx)
	}
}
