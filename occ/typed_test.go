package occ_test

import (
	"errors"
	"testing"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

type stock struct{ Left int }

func TestUpdateTyped(t *testing.T) {
	stocks := cas.Typed[stock]{Store: cas.NewMemory()}
	buy := func(cur stock, version uint64) (stock, error) {
		if version == 0 {
			cur.Left = 2
		}
		if cur.Left == 0 {
			return cur, errSoldOut
		}
		cur.Left--
		return cur, nil
	}
	for want := 1; want >= 0; want-- {
		got, version, st, err := occ.UpdateTyped(t.Context(), stocks, "sku/1", buy, occ.CreateIfMissing())
		if err != nil || got.Left != want || version != uint64(2-want) {
			t.Fatalf("UpdateTyped = %+v at version %d, %v; want %d left at version %d", got, version, err, want, 2-want)
		}
		wantStats(t, st, 1, 0)
	}
	if _, _, _, err := occ.UpdateTyped(t.Context(), stocks, "sku/1", buy); err != errSoldOut {
		t.Fatalf("UpdateTyped of a sold out item = %v, want errSoldOut as it is", err)
	}
}

var errSoldOut = errors.New("sold out")

func TestUpdateTypedDecodeError(t *testing.T) {
	store := cas.NewMemory()
	if _, err := store.Create(t.Context(), "sku/1", []byte("{")); err != nil {
		t.Fatal(err)
	}
	called := false
	_, _, st, err := occ.UpdateTyped(t.Context(), cas.Typed[stock]{Store: store}, "sku/1", func(cur stock, _ uint64) (stock, error) {
		called = true
		return cur, nil
	})
	if !errors.Is(err, cas.ErrDecode) || called {
		t.Fatalf("UpdateTyped of an undecodable value = %v (fn called: %v), want ErrDecode", err, called)
	}
	wantStats(t, st, 1, 0)
}
