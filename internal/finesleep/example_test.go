package finesleep_test

import (
	"context"
	"fmt"
	"time"

	"github.com/racefree/racefree/internal/finesleep"
)

// A waiter polls every 300 µs; time.Sleep would wait about 1 ms each time
// on an idle Linux process.
func ExampleSleep() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	polls := 0
	for polls < 3 {
		if err := finesleep.Sleep(ctx, 300*time.Microsecond); err != nil {
			fmt.Println(err)
			return
		}
		polls++
	}
	fmt.Println("polled", polls, "times")
	// Output: polled 3 times
}
