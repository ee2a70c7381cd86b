package fence_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/fence"
	"github.com/racefree/racefree/lock"
)

// A holder writes a value kept in a cas.Store (here in memory; dynamocas or
// mongocas across processes) with its lease's token. A write with an older
// token, from a holder paused past its lease, is refused.
func ExampleItem_Update() {
	ctx := context.Background()
	store := cas.NewMemory()
	locker, _ := caslock.New(store, caslock.WithKeyPrefix("lock/"))
	var reports fence.Item

	lease, err := locker.Acquire(ctx, "report", lock.WithTTL(10*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lease.Release(ctx)
	_, err = reports.Update(ctx, store, "report", lease.Token(), []byte("totals"))
	fmt.Println("holder's write:", err)

	_, err = reports.Update(ctx, store, "report", lease.Token()-1, []byte("late"))
	fmt.Println("older token refused:", errors.Is(err, fence.ErrStaleToken))
	// Output:
	// holder's write: <nil>
	// older token refused: true
}
