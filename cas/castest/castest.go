// Package castest is the conformance suite every cas.Store passes unchanged.
//
// An adapter's test calls Run with a Harness that makes fresh Stores, each
// with its own client, as separate processes would have:
//
//	func TestConformance(t *testing.T) {
//		castest.Run(t, castest.Harness{
//			NewStore: func(t *testing.T) cas.Store { return mystore.New(newClient(t)) },
//		})
//	}
//
// Run checks the contract of package cas: Create, Get, CompareAndSwap and
// CompareAndDelete semantics; ErrNotFound, ErrExists and ErrConflict always
// told apart; versions growing by one per write and continuing across deletes
// (no ABA); Stores of the same test seeing each other's writes; a counter
// incremented concurrently through occ.Update from two Stores ending at
// exactly the number of successful writes; a concurrent history of operations
// that porcupine proves linearizable; large, binary and empty values; values
// over the limit and bad keys refused with nothing written; done contexts;
// returned items that are copies.
package castest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/cas"
)

// Harness tells Run how to make the Stores under test.
type Harness struct {
	// NewStore returns a new Store with its own client, as another process
	// would have, closed with t.Cleanup. All the Stores of one test (one t)
	// work on the same isolated namespace: each sees the others' writes, and
	// none sees the items of another test.
	NewStore func(t *testing.T) cas.Store

	// MaxValueSize is the largest value, in bytes, the Store keeps: values of
	// that size must round-trip and a larger one must be refused with
	// cas.ErrValueTooLarge. Zero means cas.DefaultMaxValueSize.
	MaxValueSize int

	// MaxKeyLen is the longest key, in bytes, the Store accepts: a key of that
	// length must work and a longer one must be refused with
	// cas.ErrInvalidKey. Zero means cas.DefaultMaxKeyLen.
	MaxKeyLen int
}

// opTimeout bounds every case, so that a hung backend fails the test instead
// of stalling it.
const opTimeout = 60 * time.Second

// Run runs the whole suite against the Stores h makes, one subtest per case.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewStore == nil {
		t.Fatal("castest: Harness.NewStore is nil")
	}
	if h.MaxValueSize == 0 {
		h.MaxValueSize = cas.DefaultMaxValueSize
	}
	if h.MaxKeyLen == 0 {
		h.MaxKeyLen = cas.DefaultMaxKeyLen
	}
	cases := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"CreateGet", testCreateGet},
		{"CreateExisting", testCreateExisting},
		{"GetMissing", testGetMissing},
		{"CompareAndSwap", testCompareAndSwap},
		{"CompareAndSwapStale", testCompareAndSwapStale},
		{"CompareAndSwapMissing", testCompareAndSwapMissing},
		{"CompareAndDelete", testCompareAndDelete},
		{"CompareAndDeleteStale", testCompareAndDeleteStale},
		{"CompareAndDeleteMissing", testCompareAndDeleteMissing},
		{"TombstoneNoABA", testTombstone},
		{"TwoStores", testTwoStores},
		{"BinaryValues", testBinaryValues},
		{"LargeValue", testLargeValue},
		{"ValueTooLarge", testValueTooLarge},
		{"ItemsAreCopies", testCopies},
		{"BadKeys", testBadKeys},
		{"LongestKey", testLongestKey},
		{"DistinctKeys", testDistinctKeys},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentCounter", testConcurrentCounter},
		{"Linearizable", testLinearizable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// testContext returns a context for one case, cancelled when it ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newKey returns a key no other test or run uses: the case name, a random
// part (namespaces may outlive a run) and suffix.
func newKey(t *testing.T, suffix string) string {
	name := t.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "castest/" + name + "-" + hex.EncodeToString(b[:]) + "/" + suffix
}

// sentinels are the errors of the contract that must never be confused.
var sentinels = []error{cas.ErrNotFound, cas.ErrExists, cas.ErrConflict, cas.ErrInvalidKey, cas.ErrValueTooLarge}

// wantErr fails t unless err is target and none of the other sentinels.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	for _, s := range sentinels {
		if s != target && errors.Is(err, s) {
			t.Fatalf("%s: error %v is %v as well as %v: they must be told apart", what, err, s, target)
		}
	}
}

// wantItem fails t unless got is the item key at version with value.
func wantItem(t *testing.T, what string, got cas.Item, key string, value []byte, version uint64) {
	t.Helper()
	if got.Key != key || got.Version != version || string(got.Value) != string(value) {
		t.Fatalf("%s: got item {%q, %s, version %d}, want {%q, %s, version %d}",
			what, got.Key, short(got.Value), got.Version, key, short(value), version)
	}
}

// wantState fails t unless key reads back as value at version.
func wantState(t *testing.T, ctx context.Context, s cas.Store, key string, value []byte, version uint64) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get %q: %v, want version %d", key, err, version)
	}
	wantItem(t, "Get", got, key, value, version)
}

// wantMissing fails t unless Get of key is cas.ErrNotFound.
func wantMissing(t *testing.T, ctx context.Context, s cas.Store, key string) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if err == nil {
		t.Fatalf("Get %q: got version %d, want ErrNotFound", key, got.Version)
	}
	wantErr(t, "Get", err, cas.ErrNotFound)
}

// mustCreate creates key with value and checks the result is at version.
func mustCreate(t *testing.T, ctx context.Context, s cas.Store, key string, value []byte, version uint64) cas.Item {
	t.Helper()
	it, err := s.Create(ctx, key, value)
	if err != nil {
		t.Fatalf("Create %q: %v", key, err)
	}
	wantItem(t, "Create", it, key, value, version)
	return it
}

// mustSwap swaps key from version to value and checks the new version.
func mustSwap(t *testing.T, ctx context.Context, s cas.Store, key string, version uint64, value []byte) cas.Item {
	t.Helper()
	it, err := s.CompareAndSwap(ctx, key, version, value)
	if err != nil {
		t.Fatalf("CompareAndSwap %q at version %d: %v", key, version, err)
	}
	wantItem(t, "CompareAndSwap", it, key, value, version+1)
	return it
}

// short prints a value for a failure message.
func short(b []byte) string {
	if len(b) > 32 {
		return hex.EncodeToString(b[:16]) + "...(" + strconv.Itoa(len(b)) + " bytes)"
	}
	return "0x" + hex.EncodeToString(b)
}
