package locktest

import (
	"sync"
	"testing"
	"time"
)

func (s *suite) testTokensIncrease(t *testing.T) {
	if !s.props.Fencing {
		t.Skipf("%s declares no fencing tokens (Properties.Fencing is false)", s.props.Name)
	}
	k := key(t)
	a, b := s.h.NewLocker(t), s.h.NewLocker(t)
	var last uint64
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		lease := acquire(t, l, k)
		if lease.Token() <= last {
			t.Fatalf("grant %d: token %d is not greater than the previous %d", i, lease.Token(), last)
		}
		last = lease.Token()
		if err := lease.Release(testContext(t)); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
}

func (s *suite) testFIFO(t *testing.T) {
	if !s.props.FIFO {
		t.Skipf("%s does not grant in FIFO order (Properties.FIFO is false)", s.props.Name)
	}
	const waiters = 5
	k := key(t)
	holder := acquire(t, s.h.NewLocker(t), k)

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range waiters {
		l := s.h.NewLocker(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease, err := l.Acquire(testContext(t), k)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := lease.Release(testContext(t)); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		}()
		// Let waiter i queue up before waiter i+1 starts.
		time.Sleep(150 * time.Millisecond)
	}
	if err := holder.Release(testContext(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v, want waiters in the order they started", order)
		}
	}
	if len(order) != waiters {
		t.Fatalf("%d of %d waiters were granted", len(order), waiters)
	}
}
