package dynamocas_test

import (
	"testing"

	"github.com/racefree/racefree/cas/dynamocas"
)

// BenchmarkCompareAndSwap measures one conditional write (UpdateItem) on
// the test server.
func BenchmarkCompareAndSwap(b *testing.B) {
	client, table := newTable(b)
	s := dynamocas.New(client, table)
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
