package redlock

import (
	"context"
	"math/rand/v2"
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
			q := offlineQuorum(3)
			nodes := q.nodes
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
				endFanout(q, f)
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

// Random fan-outs, some of whose nodes never answer until the end: whenever
// the answers that do come decide a collect (enough confirmations, or too
// many refusals and errors for the need), it returns without the silent
// nodes.
func TestFanoutCallerDecidesWithoutTheSilentNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for trial := range 2000 {
		n := 3 + rng.IntN(5)
		q := offlineQuorum(n)
		nodes := q.nodes
		answers := make(map[Client]nodeResult, n)
		silent := make(map[Client]bool, n)
		delay := make(map[Client]time.Duration, n)
		confirmed, failed := 0, 0
		for _, c := range nodes {
			delay[c] = time.Duration(rng.IntN(200)) * time.Microsecond
			answers[c] = [...]nodeResult{{val: 1}, {val: 1}, {val: 0}, {err: context.DeadlineExceeded}}[rng.IntN(4)]
			silent[c] = rng.IntN(4) == 0
			switch {
			case silent[c]:
			case isConfirmed(answers[c]):
				confirmed++
			default:
				failed++
			}
		}
		need := 1 + rng.IntN(n)
		speak := make(chan struct{})
		f := q.launch(context.Background(), q.allNodes(), nil, time.Minute, wakeRule{need: need, counts: isConfirmed},
			func(_ context.Context, node Client) nodeResult {
				if silent[node] {
					<-speak
				} else {
					time.Sleep(delay[node])
				}
				return answers[node]
			})
		collected := make(chan int, 1)
		go func() {
			ok, _, _ := (&quorumGrant{q: q}).collect(context.Background(), f, need)
			collected <- ok
		}()
		silentCount := n - confirmed - failed
		if confirmed >= need || confirmed+silentCount < need || silentCount == 0 {
			select {
			case ok := <-collected:
				collected <- ok
			case <-time.After(5 * time.Second):
				t.Errorf("trial %d: %d nodes, need %d, %d confirmed, %d failed, %d silent: the caller slept with a decision in hand",
					trial, n, need, confirmed, failed, silentCount)
			}
		}
		close(speak)
		<-collected
		endFanout(q, f)
		if t.Failed() {
			return
		}
	}
}

// A caller that waits for every answer (need above the calls, as for a
// fan-out extended later) is woken by the last one.
func TestFanoutLastAnswerWakesTheCaller(t *testing.T) {
	q := offlineQuorum(2)
	f := q.launch(context.Background(), q.allNodes(), nil, time.Minute, wakeRule{need: 3, counts: isGrant},
		func(context.Context, Client) nodeResult { return nodeResult{val: 1} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for k := range q.nodes {
		if _, _, err := f.next(ctx); err != nil {
			t.Errorf("answer %d of %d: %v", k+1, len(q.nodes), err)
		}
	}
	endFanout(q, f)
}

// offlineQuorum is a quorum of n clients that are never dialled: the
// fan-outs of these tests do not touch their nodes. A node is told apart by
// its Client value.
func offlineQuorum(n int) *quorum {
	nodes := make([]Client, n)
	for i := range nodes {
		nodes[i] = redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	}
	return &quorum{nodes: nodes, majority: n/2 + 1, workers: workpool.New(time.Second)}
}

// endFanout decides f with no follow-up, waits for all its calls, and closes
// q's workers and clients.
func endFanout(q *quorum, f *fanout) {
	f.decide(nil)
	f.waitFollowUps()
	q.closeBackground()
	q.workers.Close()
	for _, c := range q.nodes {
		_ = c.(*redis.Client).Close()
	}
}
