package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every task runs, on reused workers when they are idle, and Close leaves no
// worker behind.
func TestRunsEveryTaskAndReusesWorkers(t *testing.T) {
	p := New(time.Minute)
	defer p.Close()
	var ran atomic.Int32
	for range 100 {
		done := make(chan struct{})
		p.Go(func() { ran.Add(1); close(done) })
		<-done
		runtime.Gosched() // let the worker go back to waiting
	}
	if n := ran.Load(); n != 100 {
		t.Fatalf("%d of 100 tasks ran", n)
	}
	var wg sync.WaitGroup
	block := make(chan struct{})
	for range 10 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-block })
	}
	close(block) // ten tasks at once: they needed ten workers, all ran
	wg.Wait()
}

// Idle workers exit on their own; tasks after Close still run.
func TestIdleWorkersExitAndCloseStillRuns(t *testing.T) {
	p := New(time.Millisecond)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	goleak.VerifyNone(t) // the worker exits after 1 ms idle
	p.Close()
	done = make(chan struct{})
	p.Go(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a task given after Close did not run")
	}
}
