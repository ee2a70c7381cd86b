package castest

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/racefree/racefree/cas"
)

// testBinaryValues round-trips every byte value, an empty value, and an empty
// value written over a non-empty one.
func testBinaryValues(t *testing.T, h Harness) {
	ctx, s := testContext(t), h.NewStore(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := newKey(t, "all-bytes")
	mustCreate(t, ctx, s, key, all, 1)
	wantState(t, ctx, s, key, all, 1)
	reversed := bytes.Clone(all)
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	mustSwap(t, ctx, s, key, 1, reversed)
	wantState(t, ctx, s, key, reversed, 2)
	mustSwap(t, ctx, s, key, 2, nil)
	wantState(t, ctx, s, key, nil, 3)

	empty := newKey(t, "empty")
	mustCreate(t, ctx, s, empty, []byte{}, 1)
	wantState(t, ctx, s, empty, nil, 1)
	mustSwap(t, ctx, s, empty, 1, []byte{0})
	wantState(t, ctx, s, empty, []byte{0}, 2)
}

// testLargeValue round-trips random values of exactly the Store's limit, by
// Create and by CompareAndSwap.
func testLargeValue(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	first, second := randomBytes(h.MaxValueSize), randomBytes(h.MaxValueSize)
	mustCreate(t, ctx, s, key, first, 1)
	wantState(t, ctx, s, key, first, 1)
	mustSwap(t, ctx, s, key, 1, second)
	wantState(t, ctx, s, key, second, 2)
}

// testValueTooLarge checks that a value one byte over the limit is refused
// with ErrValueTooLarge and that nothing is written.
func testValueTooLarge(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	big := randomBytes(h.MaxValueSize + 1)
	_, err := s.Create(ctx, key, big)
	wantErr(t, "Create of a value over the limit", err, cas.ErrValueTooLarge)
	wantMissing(t, ctx, s, key)

	mustCreate(t, ctx, s, key, []byte("small"), 1)
	_, err = s.CompareAndSwap(ctx, key, 1, big)
	wantErr(t, "CompareAndSwap of a value over the limit", err, cas.ErrValueTooLarge)
	wantState(t, ctx, s, key, []byte("small"), 1)
}

// testCopies checks that the Store neither keeps the caller's slices nor hands
// out its own: changing them afterwards changes nothing stored.
func testCopies(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	in := []byte("original")
	created := mustCreate(t, ctx, s, key, in, 1)
	in[0], created.Value[0] = 'X', 'Y'
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	wantItem(t, "Get after changing the slices given to and returned by Create", got, key, []byte("original"), 1)
	got.Value[0] = 'Z'
	wantState(t, ctx, s, key, []byte("original"), 1)

	in = []byte("swapped")
	swapped := mustSwap(t, ctx, s, key, 1, in)
	in[0], swapped.Value[0] = 'X', 'Y'
	wantState(t, ctx, s, key, []byte("swapped"), 2)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
