package cas_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/racefree/racefree/cas"
)

type seat struct {
	Row    int    `json:"row"`
	Number int    `json:"number"`
	Holder string `json:"holder,omitempty"`
}

func TestTypedRoundTrip(t *testing.T) {
	ctx := t.Context()
	seats := cas.Typed[seat]{Store: cas.NewMemory()}
	v, err := seats.Create(ctx, "seat/12A", seat{Row: 12, Number: 1})
	if err != nil || v != 1 {
		t.Fatalf("Create = %d, %v; want 1, nil", v, err)
	}
	v, err = seats.CompareAndSwap(ctx, "seat/12A", 1, seat{Row: 12, Number: 1, Holder: "ada"})
	if err != nil || v != 2 {
		t.Fatalf("CompareAndSwap = %d, %v; want 2, nil", v, err)
	}
	got, v, err := seats.Get(ctx, "seat/12A")
	if err != nil || v != 2 || got != (seat{Row: 12, Number: 1, Holder: "ada"}) {
		t.Fatalf("Get = %+v, %d, %v", got, v, err)
	}
	if _, err := seats.CompareAndSwap(ctx, "seat/12A", 1, seat{Holder: "bob"}); !errors.Is(err, cas.ErrConflict) {
		t.Fatalf("stale CompareAndSwap: %v, want ErrConflict", err)
	}
	if err := seats.CompareAndDelete(ctx, "seat/12A", 2); err != nil {
		t.Fatalf("CompareAndDelete: %v", err)
	}
	if _, _, err := seats.Get(ctx, "seat/12A"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
}

func TestTypedDecodeError(t *testing.T) {
	ctx := t.Context()
	store := cas.NewMemory()
	if _, err := store.Create(ctx, "seat/1", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	_, v, err := cas.Typed[seat]{Store: store}.Get(ctx, "seat/1")
	if !errors.Is(err, cas.ErrDecode) || v != 1 {
		t.Fatalf("Get of a value that is not JSON = version %d, %v; want version 1, ErrDecode", v, err)
	}
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		t.Fatalf("the codec's error is not wrapped: %v", err)
	}
	t.Log(err)
}

type failingCodec struct{ cas.JSON }

var errCodec = errors.New("codec refuses")

func (failingCodec) Marshal(any) ([]byte, error) { return nil, errCodec }

func TestTypedEncodeError(t *testing.T) {
	ctx := t.Context()
	store := cas.NewMemory()
	typed := cas.Typed[seat]{Store: store, Codec: failingCodec{}}
	if _, err := typed.Create(ctx, "seat/1", seat{}); !errors.Is(err, cas.ErrEncode) || !errors.Is(err, errCodec) {
		t.Fatalf("Create with a failing codec: %v, want ErrEncode wrapping the codec's error", err)
	}
	if _, err := store.Get(ctx, "seat/1"); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("a failed encode wrote something: %v", err)
	}
}

func TestTypedNilStore(t *testing.T) {
	var typed cas.Typed[seat]
	if _, _, err := typed.Get(t.Context(), "k"); err == nil {
		t.Fatal("Get on a Typed without a Store: no error")
	}
	if _, err := typed.Create(t.Context(), "k", seat{}); err == nil {
		t.Fatal("Create on a Typed without a Store: no error")
	}
}
