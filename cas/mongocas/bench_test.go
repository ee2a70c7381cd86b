package mongocas_test

import (
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/mongocas"
	"github.com/racefree/racefree/internal/testenv"
)

// BenchmarkCompareAndSwap measures one write of each mode on the test
// server: a version-filtered update, and a read plus an insert in the log.
func BenchmarkCompareAndSwap(b *testing.B) {
	for _, m := range []struct {
		name string
		opts []mongocas.Option
	}{{"Updates", nil}, {"VersionLog", []mongocas.Option{mongocas.WithVersionLog()}}} {
		b.Run(m.name, func(b *testing.B) {
			_ = testenv.Prefix(b) // before testenv.Mongo (reported deadlock)
			coll := testenv.Mongo(b).Collection("bench")
			if err := mongocas.CreateIndexes(b.Context(), coll); err != nil {
				b.Fatal(err)
			}
			s := mongocas.New(coll, m.opts...)
			benchSwaps(b, s)
		})
	}
}

func benchSwaps(b *testing.B, s cas.Store) {
	ctx := b.Context()
	it, err := s.Create(ctx, "bench", []byte("0"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if it, err = s.CompareAndSwap(ctx, "bench", it.Version, []byte("v")); err != nil {
			b.Fatal(err)
		}
	}
}
