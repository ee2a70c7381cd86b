package castest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/racefree/racefree/cas"
)

const (
	historyClients = 4
	historyOps     = 40
	checkTimeout   = 30 * time.Second
)

// opKind names the operation of one history entry.
type opKind int

const (
	opGet opKind = iota
	opCreate
	opSwap
	opDelete
)

// outcome is the result class of an operation.
type outcome int

const (
	ok outcome = iota
	notFound
	exists
	conflict
)

// registerInput is what a client asked of the Store.
type registerInput struct {
	op      opKind
	version uint64
	value   string
}

// registerOutput is what the Store answered.
type registerOutput struct {
	outcome outcome
	version uint64
	value   string
}

// registerState is the sequential specification's view of one key: its last
// version survives a delete.
type registerState struct {
	live    bool
	version uint64
	value   string
}

// registerModel is the sequential specification of one key of a Store.
var registerModel = porcupine.Model{
	Init: func() any { return registerState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(registerState), input.(registerInput), output.(registerOutput)
		want, next := step(s, in)
		return want == out, next
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(registerInput), output.(registerOutput)
		return fmt.Sprintf("%s -> %s", in, out)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%+v", state.(registerState)) },
}

// step is the contract of cas.Store for one key, sequentially.
func step(s registerState, in registerInput) (registerOutput, registerState) {
	switch in.op {
	case opGet:
		if !s.live {
			return registerOutput{outcome: notFound}, s
		}
		return registerOutput{outcome: ok, version: s.version, value: s.value}, s
	case opCreate:
		if s.live {
			return registerOutput{outcome: exists}, s
		}
		next := registerState{live: true, version: s.version + 1, value: in.value}
		return registerOutput{outcome: ok, version: next.version, value: in.value}, next
	default: // opSwap, opDelete
		switch {
		case !s.live:
			return registerOutput{outcome: notFound}, s
		case s.version != in.version:
			return registerOutput{outcome: conflict}, s
		case in.op == opDelete:
			return registerOutput{outcome: ok}, registerState{version: s.version}
		}
		next := registerState{live: true, version: s.version + 1, value: in.value}
		return registerOutput{outcome: ok, version: next.version, value: in.value}, next
	}
}

func (in registerInput) String() string {
	switch in.op {
	case opGet:
		return "Get()"
	case opCreate:
		return fmt.Sprintf("Create(%q)", in.value)
	case opSwap:
		return fmt.Sprintf("CompareAndSwap(%d, %q)", in.version, in.value)
	default:
		return fmt.Sprintf("CompareAndDelete(%d)", in.version)
	}
}

func (out registerOutput) String() string {
	switch out.outcome {
	case ok:
		return fmt.Sprintf("ok(%d, %q)", out.version, out.value)
	case notFound:
		return "ErrNotFound"
	case exists:
		return "ErrExists"
	default:
		return "ErrConflict"
	}
}

// testLinearizable has clients on two Stores run random operations on one key
// at the same time, and checks with porcupine that the history they saw is
// linearizable against the sequential contract: every answer, error kind and
// version included, is one that some order of the operations explains.
func testLinearizable(t *testing.T, h Harness) {
	ctx, key := testContext(t), newKey(t, "register")
	stores := []cas.Store{h.NewStore(t), h.NewStore(t)}
	start := time.Now()

	var (
		mu      sync.Mutex
		history []porcupine.Operation
		wg      sync.WaitGroup
	)
	errs := make(chan error, historyClients)
	for c := range historyClients {
		s := stores[c%len(stores)]
		wg.Go(func() {
			var seen uint64 // the last version this client saw
			for i := range historyOps {
				in := randomInput(seen, fmt.Sprintf("c%d-%d", c, i))
				call := time.Since(start).Nanoseconds()
				out, err := apply(ctx, s, key, in)
				ret := time.Since(start).Nanoseconds()
				if err != nil {
					errs <- fmt.Errorf("client %d: %s: %w", c, in, err)
					return
				}
				if out.version != 0 {
					seen = out.version
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	switch res := porcupine.CheckOperationsTimeout(registerModel, history, checkTimeout); res {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Fatalf("the history of %d operations is not linearizable:\n%s", len(history), describe(history))
	default:
		t.Fatalf("porcupine could not decide within %v (%s)", checkTimeout, res)
	}
}

// randomInput picks an operation: mostly reads and swaps at the version last
// seen, sometimes at a stale one, and creates and deletes.
func randomInput(seen uint64, value string) registerInput {
	version := seen
	if rand.IntN(4) == 0 && version > 0 {
		version--
	}
	switch r := rand.IntN(20); {
	case r < 7:
		return registerInput{op: opGet}
	case r < 9:
		return registerInput{op: opCreate, value: value}
	case r < 17:
		return registerInput{op: opSwap, version: version, value: value}
	default:
		return registerInput{op: opDelete, version: version}
	}
}

// apply runs in against s and classifies the answer; any error outside the
// contract's sentinels is returned.
func apply(ctx context.Context, s cas.Store, key string, in registerInput) (registerOutput, error) {
	var (
		it  cas.Item
		err error
	)
	switch in.op {
	case opGet:
		it, err = s.Get(ctx, key)
	case opCreate:
		it, err = s.Create(ctx, key, []byte(in.value))
	case opSwap:
		it, err = s.CompareAndSwap(ctx, key, in.version, []byte(in.value))
	case opDelete:
		err = s.CompareAndDelete(ctx, key, in.version)
	}
	switch {
	case err == nil:
		return registerOutput{outcome: ok, version: it.Version, value: string(it.Value)}, nil
	case errors.Is(err, cas.ErrNotFound):
		return registerOutput{outcome: notFound}, nil
	case errors.Is(err, cas.ErrExists):
		return registerOutput{outcome: exists}, nil
	case errors.Is(err, cas.ErrConflict):
		return registerOutput{outcome: conflict}, nil
	}
	return registerOutput{}, err
}

// describe lists a history in call order for a failure message.
func describe(history []porcupine.Operation) string {
	sorted := slices.SortedFunc(slices.Values(history), func(a, b porcupine.Operation) int {
		return cmp.Compare(a.Call, b.Call)
	})
	var b []byte
	for _, op := range sorted {
		b = fmt.Appendf(b, "  [%8d, %8d] client %d: %s -> %s\n", op.Call/1000, op.Return/1000, op.ClientId, op.Input, op.Output)
	}
	return string(b)
}
