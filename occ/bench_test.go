package occ_test

import (
	"sync"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

// BenchmarkUpdateContended increments one counter from GOMAXPROCS goroutines
// and reports conflicts per successful update.
func BenchmarkUpdateContended(b *testing.B) {
	s := cas.NewMemory()
	ctx := b.Context()
	var (
		mu                 sync.Mutex
		conflicts, updates int64
	)
	b.RunParallel(func(pb *testing.PB) {
		var c, u int64
		for pb.Next() {
			_, st, err := occ.Update(ctx, s, "counter", increment, occ.CreateIfMissing(), occ.WithMaxAttempts(1000))
			if err != nil {
				b.Error(err)
				return
			}
			c += int64(st.Conflicts)
			u++
		}
		mu.Lock()
		conflicts += c
		updates += u
		mu.Unlock()
	})
	if updates > 0 {
		b.ReportMetric(float64(conflicts)/float64(updates), "conflicts/op")
	}
}
