package castest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/racefree/racefree/cas"
)

// testBadKeys checks that every operation refuses an empty key, one a byte
// over the limit and one that is not UTF-8, with ErrInvalidKey, and writes
// nothing.
func testBadKeys(t *testing.T, h Harness) {
	ctx, s := testContext(t), h.NewStore(t)
	tooLong := newKey(t, "")
	tooLong += strings.Repeat("k", max(0, h.MaxKeyLen+1-len(tooLong)))
	bad := map[string]string{
		"empty":             "",
		"one byte too long": tooLong,
		"invalid UTF-8":     newKey(t, "\xff\xfe"),
		"truncated rune":    newKey(t, "\xe2\x82"),
		"UTF-16 surrogate":  newKey(t, "\xed\xa0\x80"),
	}
	for name, key := range bad {
		_, err := s.Create(ctx, key, []byte("v"))
		wantErr(t, "Create with a bad key ("+name+")", err, cas.ErrInvalidKey)
		_, err = s.Get(ctx, key)
		wantErr(t, "Get with a bad key ("+name+")", err, cas.ErrInvalidKey)
		_, err = s.CompareAndSwap(ctx, key, 1, []byte("v"))
		wantErr(t, "CompareAndSwap with a bad key ("+name+")", err, cas.ErrInvalidKey)
		err = s.CompareAndDelete(ctx, key, 1)
		wantErr(t, "CompareAndDelete with a bad key ("+name+")", err, cas.ErrInvalidKey)
	}
}

// testLongestKey checks that a key of exactly the limit works.
func testLongestKey(t *testing.T, h Harness) {
	ctx, s := testContext(t), h.NewStore(t)
	key := newKey(t, "")
	if len(key) > h.MaxKeyLen {
		t.Fatalf("castest: MaxKeyLen %d is shorter than the suite's key prefix %q", h.MaxKeyLen, key)
	}
	key += strings.Repeat("k", h.MaxKeyLen-len(key))
	mustCreate(t, ctx, s, key, []byte("longest"), 1)
	wantState(t, ctx, s, key, []byte("longest"), 1)
	mustSwap(t, ctx, s, key, 1, []byte("still"))
}

// testDistinctKeys checks that keys differing only in case, trailing space,
// accents or other Unicode are distinct items (collations that fold them
// together break the Store), and that such keys round-trip.
func testDistinctKeys(t *testing.T, h Harness) {
	ctx, s := testContext(t), h.NewStore(t)
	base := newKey(t, "")
	keys := []string{
		base + "key", base + "Key", base + "KEY",
		base + "a", base + "a ", base + " a",
		base + "e", base + "é", base + "e\u0301",
		base + "ключ", base + "鍵", base + "🔑",
		base + "with space/slash:colon.dot%percent*star'quote\"",
	}
	for i, key := range keys {
		mustCreate(t, ctx, s, key, []byte{byte(i)}, 1)
	}
	for i, key := range keys {
		wantState(t, ctx, s, key, []byte{byte(i)}, 1)
	}
}

// testCanceledContext checks that every operation with a done context
// returns the context's error and writes nothing.
func testCanceledContext(t *testing.T, h Harness) {
	live, s, key := testContext(t), h.NewStore(t), newKey(t, "k")
	ctx, cancel := context.WithCancel(live)
	cancel()

	_, err := s.Create(ctx, key, []byte("v"))
	wantContextErr(t, "Create", err)
	wantMissing(t, live, s, key)

	mustCreate(t, live, s, key, []byte("v1"), 1)
	_, err = s.Get(ctx, key)
	wantContextErr(t, "Get", err)
	_, err = s.CompareAndSwap(ctx, key, 1, []byte("v2"))
	wantContextErr(t, "CompareAndSwap", err)
	err = s.CompareAndDelete(ctx, key, 1)
	wantContextErr(t, "CompareAndDelete", err)
	wantState(t, live, s, key, []byte("v1"), 1)
}

func wantContextErr(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%s with a cancelled context: got error %v, want context.Canceled", op, err)
	}
}
