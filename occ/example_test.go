package occ_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/occ"
)

func ExampleUpdate() {
	ctx := context.Background()
	store := cas.NewMemory()

	// Count page views; the first Update creates the counter.
	for range 3 {
		_, _, err := occ.Update(ctx, store, "views/home", func(cur cas.Item) ([]byte, error) {
			n, _ := strconv.Atoi(string(cur.Value)) // a missing counter reads as 0
			return []byte(strconv.Itoa(n + 1)), nil
		}, occ.CreateIfMissing())
		if err != nil {
			fmt.Println(err)
		}
	}
	it, _ := store.Get(ctx, "views/home")
	fmt.Println(string(it.Value), it.Version)
	// Output: 3 3
}

func ExampleUpdateTyped() {
	type seat struct{ Holder string }
	ctx := context.Background()
	seats := cas.Typed[seat]{Store: cas.NewMemory()}
	seats.Create(ctx, "seat/12A", seat{})

	errTaken := errors.New("seat taken")
	book := func(name string) error {
		_, _, stats, err := occ.UpdateTyped(ctx, seats, "seat/12A", func(cur seat, _ uint64) (seat, error) {
			if cur.Holder != "" {
				return cur, errTaken // abort: nothing is written
			}
			return seat{Holder: name}, nil
		}, occ.WithMaxAttempts(5))
		fmt.Println(name, err, stats.Attempts)
		return err
	}
	book("ada")
	book("bob")
	// Output:
	// ada <nil> 1
	// bob seat taken 1
}
