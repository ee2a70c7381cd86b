package workpool_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/racefree/racefree/internal/workpool"
)

func Example() {
	p := workpool.New(10 * time.Second)
	defer p.Close()
	var wg sync.WaitGroup
	results := make([]int, 3)
	for i := range results {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); results[i] = i * i })
	}
	wg.Wait()
	fmt.Println(results)
	// Output: [0 1 4]
}
