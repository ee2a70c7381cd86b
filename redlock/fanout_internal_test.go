package redlock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/racefree/racefree/internal/workpool"
)

// A fan-out's caller is woken once per decision, not per answer: grants
// that do not yet make the need leave it asleep. It must still see every
// answer it needs as soon as it can decide: a refusal (the caller asks the
// other nodes at once) and the answer that completes the need (the caller
// returns without the slow node).
func TestFanoutWakesTheCallerWhenItCanDecide(t *testing.T) {
	for _, tc := range []struct {
		name string
		fast []nodeResult // the answers of nodes 0 and 1, given at once; node 2 answers only at the end
	}{
		{"a refusal", []nodeResult{{str: "another owner"}}},
		{"an error", []nodeResult{{err: context.DeadlineExceeded}}},
		{"the grant that makes the need", []nodeResult{{val: 1}, {val: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := make([]Client, 3)
			for i := range nodes {
				// Never dialled: the calls below do not touch their node.
				c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
				t.Cleanup(func() { _ = c.Close() })
				nodes[i] = c
			}
			q := &quorum{nodes: nodes, majority: 2, workers: workpool.New(time.Second)}
			slow := make(chan struct{})
			var slowOnce sync.Once
			answerSlow := func() { slowOnce.Do(func() { close(slow) }) }
			f := q.launch(context.Background(), q.allNodes(), nil, time.Minute, wakeRule{need: 2, counts: isGrant},
				func(_ context.Context, node Client) nodeResult {
					for i, n := range nodes {
						if n == node && i < len(tc.fast) {
							return tc.fast[i]
						}
					}
					<-slow
					return nodeResult{val: 3}
				})
			defer func() {
				answerSlow()
				f.decide(nil)
				f.waitFollowUps()
				q.closeBackground()
				q.workers.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for range tc.fast {
				i, r, err := f.next(ctx)
				if err != nil {
					t.Fatalf("the caller was not woken for the fast answers while the slow node had not answered: %v", err)
				}
				if i >= len(tc.fast) || r != tc.fast[i] {
					t.Fatalf("answer of node %d: %+v, want one of the fast answers %+v", i, r, tc.fast)
				}
			}
			answerSlow()
			for range len(nodes) - len(tc.fast) {
				if i, r, err := f.next(ctx); err != nil || i < len(tc.fast) || r.val != 3 {
					t.Fatalf("slow answer: node %d, %+v, %v; want a slow node's grant", i, r, err)
				}
			}
		})
	}
}
