package castest

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// op builds a history entry.
func op(client int, call, ret int64, in registerInput, out registerOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

// TestModelAcceptsLegalHistories checks that the checker of testLinearizable
// passes histories a correct Store produces, concurrent ones included.
func TestModelAcceptsLegalHistories(t *testing.T) {
	sequential := []porcupine.Operation{
		op(0, 0, 1, registerInput{op: opGet}, registerOutput{outcome: notFound}),
		op(0, 2, 3, registerInput{op: opCreate, value: "a"}, registerOutput{outcome: ok, version: 1, value: "a"}),
		op(0, 4, 5, registerInput{op: opCreate, value: "b"}, registerOutput{outcome: exists}),
		op(0, 6, 7, registerInput{op: opSwap, version: 1, value: "c"}, registerOutput{outcome: ok, version: 2, value: "c"}),
		op(0, 8, 9, registerInput{op: opSwap, version: 1, value: "d"}, registerOutput{outcome: conflict}),
		op(0, 10, 11, registerInput{op: opDelete, version: 2}, registerOutput{outcome: ok}),
		op(0, 12, 13, registerInput{op: opSwap, version: 2, value: "e"}, registerOutput{outcome: notFound}),
		op(0, 14, 15, registerInput{op: opCreate, value: "f"}, registerOutput{outcome: ok, version: 3, value: "f"}),
	}
	if res := porcupine.CheckOperations(registerModel, sequential); !res {
		t.Fatalf("a legal sequential history was rejected:\n%s", describe(sequential))
	}
	// Two overlapping swaps from version 1: either order explains the answers.
	concurrent := []porcupine.Operation{
		op(0, 0, 1, registerInput{op: opCreate, value: "a"}, registerOutput{outcome: ok, version: 1, value: "a"}),
		op(0, 2, 10, registerInput{op: opSwap, version: 1, value: "x"}, registerOutput{outcome: conflict}),
		op(1, 3, 9, registerInput{op: opSwap, version: 1, value: "y"}, registerOutput{outcome: ok, version: 2, value: "y"}),
		op(2, 4, 5, registerInput{op: opGet}, registerOutput{outcome: ok, version: 1, value: "a"}),
	}
	if !porcupine.CheckOperations(registerModel, concurrent) {
		t.Fatalf("a legal concurrent history was rejected:\n%s", describe(concurrent))
	}
}

// TestModelRejectsBrokenStores checks that the checker catches the bugs it is
// there for: ABA after a delete, a stale read, a lost update, a conflict
// reported for a missing key.
func TestModelRejectsBrokenStores(t *testing.T) {
	create := op(0, 0, 1, registerInput{op: opCreate, value: "a"}, registerOutput{outcome: ok, version: 1, value: "a"})
	swap := op(0, 2, 3, registerInput{op: opSwap, version: 1, value: "b"}, registerOutput{outcome: ok, version: 2, value: "b"})
	del := op(0, 2, 3, registerInput{op: opDelete, version: 1}, registerOutput{outcome: ok})
	for name, history := range map[string][]porcupine.Operation{
		"version restarts after a delete (ABA)": {create, del,
			op(0, 4, 5, registerInput{op: opCreate, value: "c"}, registerOutput{outcome: ok, version: 1, value: "c"})},
		"stale read after a completed write": {create, swap,
			op(1, 4, 5, registerInput{op: opGet}, registerOutput{outcome: ok, version: 1, value: "a"})},
		"two swaps from one version both succeed (lost update)": {create,
			op(0, 2, 5, registerInput{op: opSwap, version: 1, value: "x"}, registerOutput{outcome: ok, version: 2, value: "x"}),
			op(1, 3, 6, registerInput{op: opSwap, version: 1, value: "y"}, registerOutput{outcome: ok, version: 2, value: "y"})},
		"conflict for a deleted key": {create, del,
			op(0, 4, 5, registerInput{op: opSwap, version: 1, value: "c"}, registerOutput{outcome: conflict})},
		"not found for a stale version": {create, swap,
			op(0, 4, 5, registerInput{op: opSwap, version: 1, value: "c"}, registerOutput{outcome: notFound})},
	} {
		if porcupine.CheckOperations(registerModel, history) {
			t.Errorf("%s: the checker accepted\n%s", name, describe(history))
		}
	}
}
