package caslock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/lock"
)

// Any cas.Store serves: cas.NewMemory here, dynamocas.New or mongocas.New
// across processes.
func Example() {
	locker, err := caslock.New(cas.NewMemory(), caslock.WithKeyPrefix("locks/"))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = lock.Do(context.Background(), locker, "nightly-report", func(ctx context.Context) error {
		fmt.Println("generating the report")
		return nil
	}, lock.WithTTL(10*time.Second))
	fmt.Println("err:", err)
	// Output:
	// generating the report
	// err: <nil>
}
