package cas_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/racefree/racefree/cas"
)

func Example() {
	ctx := context.Background()
	store := cas.NewMemory()

	it, _ := store.Create(ctx, "seat/12A", []byte("free"))
	fmt.Println(string(it.Value), it.Version)

	// Two buyers read version 1; the first to write wins.
	won, _ := store.CompareAndSwap(ctx, "seat/12A", 1, []byte("ada"))
	_, err := store.CompareAndSwap(ctx, "seat/12A", 1, []byte("bob"))
	fmt.Println(string(won.Value), won.Version, errors.Is(err, cas.ErrConflict))

	// A missing item is told apart from a stale version.
	_, err = store.CompareAndSwap(ctx, "seat/99Z", 1, []byte("bob"))
	fmt.Println(errors.Is(err, cas.ErrNotFound))
	// Output:
	// free 1
	// ada 2 true
	// true
}

// Deleting leaves a tombstone: the key created again continues after its last
// version, so a version read before the delete never matches again.
func ExampleMemory_CompareAndDelete() {
	ctx := context.Background()
	store := cas.NewMemory()
	store.Create(ctx, "cart/7", []byte("1 book"))
	store.CompareAndDelete(ctx, "cart/7", 1)
	_, err := store.Get(ctx, "cart/7")
	fmt.Println(errors.Is(err, cas.ErrNotFound))

	it, _ := store.Create(ctx, "cart/7", []byte("2 pens"))
	_, err = store.CompareAndSwap(ctx, "cart/7", 1, []byte("stale"))
	fmt.Println(it.Version, errors.Is(err, cas.ErrConflict))
	// Output:
	// true
	// 2 true
}

func ExampleTyped() {
	type account struct{ Balance int }
	ctx := context.Background()
	accounts := cas.Typed[account]{Store: cas.NewMemory()} // JSON by default

	accounts.Create(ctx, "acct/1", account{Balance: 100})
	acct, v, _ := accounts.Get(ctx, "acct/1")
	acct.Balance -= 30
	v, err := accounts.CompareAndSwap(ctx, "acct/1", v, acct)
	fmt.Println(acct.Balance, v, err)
	// Output: 70 2 <nil>
}
