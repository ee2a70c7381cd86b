package castest

import (
	"testing"

	"github.com/racefree/racefree/cas"
)

func testCreateGet(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	wantState(t, ctx, s, key, []byte("v1"), 1)
}

func testCreateExisting(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("first"), 1)
	_, err := s.Create(ctx, key, []byte("second"))
	wantErr(t, "Create of a live key", err, cas.ErrExists)
	wantState(t, ctx, s, key, []byte("first"), 1)
}

func testGetMissing(t *testing.T, h Harness) {
	ctx, s := testContext(t), h.NewStore(t)
	wantMissing(t, ctx, s, newKey(t, "never-created"))
}

func testCompareAndSwap(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	for v := uint64(1); v < 6; v++ {
		value := []byte{'v', byte('1' + v)}
		mustSwap(t, ctx, s, key, v, value)
		wantState(t, ctx, s, key, value, v+1)
	}
}

// testCompareAndSwapStale includes the largest uint64 version: a Store that
// keeps versions in a signed column must still answer ErrConflict.
func testCompareAndSwapStale(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	mustSwap(t, ctx, s, key, 1, []byte("v2"))
	for _, version := range []uint64{1, 3, 0, ^uint64(0)} {
		_, err := s.CompareAndSwap(ctx, key, version, []byte("lost"))
		wantErr(t, "CompareAndSwap at a version the item is not at", err, cas.ErrConflict)
	}
	wantState(t, ctx, s, key, []byte("v2"), 2)
}

func testCompareAndSwapMissing(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	for _, version := range []uint64{0, 1, ^uint64(0)} {
		_, err := s.CompareAndSwap(ctx, key, version, []byte("lost"))
		wantErr(t, "CompareAndSwap of a missing key", err, cas.ErrNotFound)
	}
	wantMissing(t, ctx, s, key)
}

func testCompareAndDelete(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	mustSwap(t, ctx, s, key, 1, []byte("v2"))
	if err := s.CompareAndDelete(ctx, key, 2); err != nil {
		t.Fatalf("CompareAndDelete at the current version: %v", err)
	}
	wantMissing(t, ctx, s, key)
}

func testCompareAndDeleteStale(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	mustSwap(t, ctx, s, key, 1, []byte("v2"))
	for _, version := range []uint64{1, 3, 0, ^uint64(0)} {
		err := s.CompareAndDelete(ctx, key, version)
		wantErr(t, "CompareAndDelete at a version the item is not at", err, cas.ErrConflict)
	}
	wantState(t, ctx, s, key, []byte("v2"), 2)
}

func testCompareAndDeleteMissing(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	for _, version := range []uint64{0, 1} {
		err := s.CompareAndDelete(ctx, key, version)
		wantErr(t, "CompareAndDelete of a missing key", err, cas.ErrNotFound)
	}
	wantMissing(t, ctx, s, key)
}

// testTombstone checks that a deleted key keeps its version: it is missing for
// every operation but Create, which continues after the last version, so that
// no version from before the delete can ever match again.
func testTombstone(t *testing.T, h Harness) {
	ctx, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, s, key, []byte("v1"), 1)
	mustSwap(t, ctx, s, key, 1, []byte("v2"))
	if err := s.CompareAndDelete(ctx, key, 2); err != nil {
		t.Fatalf("CompareAndDelete: %v", err)
	}
	wantMissing(t, ctx, s, key)
	_, err := s.CompareAndSwap(ctx, key, 2, []byte("lost"))
	wantErr(t, "CompareAndSwap of a deleted key at its last version", err, cas.ErrNotFound)
	err = s.CompareAndDelete(ctx, key, 2)
	wantErr(t, "CompareAndDelete of a deleted key at its last version", err, cas.ErrNotFound)

	mustCreate(t, ctx, s, key, []byte("again"), 3)
	for _, version := range []uint64{1, 2} {
		_, err := s.CompareAndSwap(ctx, key, version, []byte("ABA"))
		wantErr(t, "CompareAndSwap at a version from before the delete", err, cas.ErrConflict)
		err = s.CompareAndDelete(ctx, key, version)
		wantErr(t, "CompareAndDelete at a version from before the delete", err, cas.ErrConflict)
	}
	wantState(t, ctx, s, key, []byte("again"), 3)
	mustSwap(t, ctx, s, key, 3, []byte("v4"))

	// A second delete and create still continues.
	if err := s.CompareAndDelete(ctx, key, 4); err != nil {
		t.Fatalf("second CompareAndDelete: %v", err)
	}
	mustCreate(t, ctx, s, key, []byte("third life"), 5)
	wantState(t, ctx, s, key, []byte("third life"), 5)
}

// testTwoStores checks that two Stores of one test, with their own clients,
// see each other's writes at once.
func testTwoStores(t *testing.T, h Harness) {
	ctx, a, b, key := testContext(t), h.NewStore(t), h.NewStore(t), newKey(t, "k")
	mustCreate(t, ctx, a, key, []byte("from a"), 1)
	wantState(t, ctx, b, key, []byte("from a"), 1)
	_, err := b.Create(ctx, key, []byte("from b"))
	wantErr(t, "Create through a second Store", err, cas.ErrExists)
	mustSwap(t, ctx, b, key, 1, []byte("from b"))
	wantState(t, ctx, a, key, []byte("from b"), 2)
	_, err = a.CompareAndSwap(ctx, key, 1, []byte("stale a"))
	wantErr(t, "CompareAndSwap at the version read before the other Store wrote", err, cas.ErrConflict)
	if err := a.CompareAndDelete(ctx, key, 2); err != nil {
		t.Fatalf("CompareAndDelete: %v", err)
	}
	wantMissing(t, ctx, b, key)
	mustCreate(t, ctx, b, key, []byte("b again"), 3)
}
