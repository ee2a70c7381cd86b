package workload

import (
	"fmt"
	"math/rand/v2"
)

// Namespace returns a fresh prefix for the keys of one run: name, a dash and
// eight random hex digits. Runs on a shared server then never see each
// other's keys, and a rerun starts from an empty state. It uses only
// characters every backend accepts in a key.
func Namespace(name string) string {
	return fmt.Sprintf("%s-%08x", name, rand.Uint32())
}
