//go:build linux

package finesleep

import (
	"context"
	"testing"
	"time"
)

// The fine timer ends with the context, long before its own end: a long
// wait (beyond Threshold, which Sleep would give to a time.Timer) is
// cancelled after 1 ms.
func TestFineSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start := time.Now()
	if !fineSleep(ctx, time.Minute) {
		t.Fatal("no fine timer on Linux")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a fine sleep cancelled after 1 ms returned after %v", took)
	}
	if ctx.Err() == nil {
		t.Fatal("returned before its context ended")
	}
	// The next fine sleep gets a fresh timer and waits its full time.
	start = time.Now()
	if !fineSleep(context.Background(), 300*time.Microsecond) {
		t.Fatal("no fine timer after a cancelled one")
	}
	if took := time.Since(start); took < 300*time.Microsecond {
		t.Fatalf("a fine sleep of 300µs after a cancelled one returned after %v", took)
	}
}
