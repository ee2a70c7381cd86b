package backend

import (
	"flag"

	"github.com/racefree/racefree/examples/internal/workload"
)

// Choice is the -strategy flag of the programs that show both a lock and a
// compare-and-swap fix: lock, cas or both.
type Choice struct{ value string }

// RegisterChoice adds -strategy to fs, default both.
func RegisterChoice(fs *flag.FlagSet) *Choice {
	c := &Choice{}
	fs.StringVar(&c.value, "strategy", "both", "protection to run after the unprotected run: lock, cas or both")
	return c
}

// Validate returns an error wrapping workload.ErrUsage for any other value.
func (c *Choice) Validate() error {
	switch c.value {
	case "lock", "cas", "both":
		return nil
	}
	return workload.Usagef("-strategy %q: want lock, cas or both", c.value)
}

// Pick returns unprotected followed by the strategies chosen.
func (c *Choice) Pick(unprotected, withLock, withCAS workload.Strategy) []workload.Strategy {
	picked := []workload.Strategy{unprotected}
	if c.value != "cas" {
		picked = append(picked, withLock)
	}
	if c.value != "lock" {
		picked = append(picked, withCAS)
	}
	return picked
}
