// Command matchmaking forms games out of a pool of waiting players. Several
// matchmakers run at once; each picks a few players, checks they are all
// still waiting and puts them into its game. Unprotected, two matchmakers
// that pick the same player both put them in their game. It is fixed two
// ways: by locking all the game's players, always in the same (sorted) order
// so that two matchmakers can never deadlock each other, or by claiming each
// player with a compare-and-swap and giving the claims back if one fails.
//
//	go run ./examples/matchmaking
//	go run ./examples/matchmaking -strategy lock -lock redis
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
)

func main() { workload.Main(program) }

var program = workload.Program{Name: "matchmaking", Setup: setup}

// config is one run of the workload.
type config struct {
	matchmakers int           // concurrent matchmakers, one game each
	players     int           // players waiting
	size        int           // players per game
	setup       time.Duration // time between checking the players and putting them in the game
}

func setup(fs *flag.FlagSet) workload.Runner {
	var cfg config
	fs.IntVar(&cfg.matchmakers, "matchmakers", 60, "concurrent matchmakers, each forming one game")
	fs.IntVar(&cfg.players, "players", 80, "players waiting for a game")
	fs.IntVar(&cfg.size, "size", 4, "players per game")
	fs.DurationVar(&cfg.setup, "setup", time.Millisecond, "time between checking the players and putting them in the game")
	choice := backend.RegisterChoice(fs)
	backends := backend.Register(fs, backend.Memory, backend.Memory)
	return func(ctx context.Context, out io.Writer) ([]workload.Report, error) {
		if cfg.matchmakers < 1 || cfg.size < 1 || cfg.players < cfg.size || cfg.setup < 0 {
			return nil, workload.Usagef("need -matchmakers and -size of at least 1, -players of at least -size and -setup of 0 or more (got %d, %d, %d, %v)",
				cfg.matchmakers, cfg.size, cfg.players, cfg.setup)
		}
		if err := choice.Validate(); err != nil {
			return nil, err
		}
		header := fmt.Sprintf("%d matchmakers forming games of %d from %d players, %v between check and start", cfg.matchmakers, cfg.size, cfg.players, cfg.setup)
		return backends.Compare(ctx, out, header, func(b *backend.Backends) []workload.Strategy {
			return choice.Pick(
				workload.Strategy{Name: "unprotected", Run: cfg.run(unprotected(cfg))},
				b.Locked("lock", cfg.run(withLocks(cfg, b.Locker))),
				b.Stored("cas", cfg.run(withCAS(cfg, b.Store))),
			)
		})
	}
}
