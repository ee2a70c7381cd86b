package lock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A caller's Refresh to a shorter TTL moves the timer too: without
// auto-refresh Done closes at the new deadline, not at the old one.
func TestRefreshToAShorterTTLMovesDone(t *testing.T) {
	ctx := context.Background()
	lease, err := NewMemory().Acquire(ctx, "k", WithTTL(time.Minute), WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if err := lease.Refresh(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitLost(t, lease, "after Refresh(50ms)")
}

// waitLost fails t unless lease ends as lost within 2 s.
func waitLost(t *testing.T, lease Lease, when string) {
	t.Helper()
	select {
	case <-lease.Done():
	case <-time.After(2 * time.Second):
		t.Fatalf("Done still open 2s %s; Err = %v", when, lease.Err())
	}
	if !errors.Is(lease.Err(), ErrLost) {
		t.Fatalf("Err = %v, want ErrLost", lease.Err())
	}
}

// With auto-refresh, the renewals follow a caller's Refresh to a shorter TTL:
// the lease stays held for many of the new TTLs.
func TestAutoRefreshFollowsAShorterTTL(t *testing.T) {
	ctx := context.Background()
	l := NewMemory()
	lease, err := l.Acquire(ctx, "k", WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	// Long enough that a busy CI host does not miss a renewal: before the
	// fix the timer still waited for the old TTL's first renewal (20 s).
	if err := lease.Refresh(ctx, 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // over three of the new TTLs
	if err := lease.Err(); err != nil {
		t.Fatalf("lease renewed every TTL/3 after Refresh(600ms): %v", err)
	}
	if _, err := l.TryAcquire(ctx, "k"); !errors.Is(err, ErrNotAcquired) {
		t.Fatalf("TryAcquire of the renewed key: %v, want ErrNotAcquired", err)
	}
}

// stallingBackend grants at once; once stall is set, its Refresh blocks until
// its context is done.
type stallingBackend struct{ g *stallingGrant }

type stallingGrant struct {
	stall    chan struct{} // closed: Refresh blocks until ctx is done
	stalled  chan struct{} // receives once a Refresh is blocked
	released chan struct{} // receives on each Release
}

func (b *stallingBackend) Properties() Properties {
	return Properties{Name: "stalling", LeaseTTL: true, MinTTL: time.Millisecond}
}

func (b *stallingBackend) TryGrant(context.Context, string, time.Duration) (Grant, error) {
	return b.g, nil
}

func (g *stallingGrant) Token() uint64 { return 1 }

func (g *stallingGrant) Refresh(ctx context.Context, _ time.Duration) error {
	select {
	case <-g.stall:
	default:
		return nil
	}
	select {
	case g.stalled <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (g *stallingGrant) Release(context.Context) error {
	select {
	case g.released <- struct{}{}:
	default:
	}
	return nil
}

// A caller's Refresh stuck in a slow backend does not keep Done open past the
// deadline, nor hold up a Release past the Release's context.
func TestStuckRefreshDoesNotHoldUpDoneOrRelease(t *testing.T) {
	g := &stallingGrant{stall: make(chan struct{}), stalled: make(chan struct{}, 1), released: make(chan struct{}, 1)}
	lease, err := New(&stallingBackend{g: g}).Acquire(context.Background(), "k", WithTTL(150*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	close(g.stall)
	refreshCtx, cancelRefresh := context.WithCancel(context.Background())
	refreshed := make(chan error, 1)
	go func() { refreshed <- lease.Refresh(refreshCtx, 150*time.Millisecond) }()
	defer func() {
		cancelRefresh()
		<-refreshed
	}()
	select {
	case <-g.stalled:
	case <-time.After(2 * time.Second):
		t.Fatal("the caller's Refresh never reached the backend")
	}

	waitLost(t, lease, "into a 150ms lease while a Refresh is stuck")

	releaseCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	released := make(chan error, 1)
	go func() { released <- lease.Release(releaseCtx) }()
	select {
	case err := <-released:
		if err == nil {
			t.Fatal("Release of a lost lease: nil error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Release with a 50ms context still blocked 2s later behind the stuck Refresh")
	}
}

// A Release while a Refresh is stuck in the backend cancels that Refresh and
// then releases the grant, even with a context that has already ended: a
// session-bound grant (an advisory lock on a pooled connection) is freed only
// by its Release.
func TestReleaseCancelsAStuckRefresh(t *testing.T) {
	g := &stallingGrant{stall: make(chan struct{}), stalled: make(chan struct{}, 1), released: make(chan struct{}, 1)}
	lease, err := New(&stallingBackend{g: g}).Acquire(context.Background(), "k", WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	close(g.stall)
	refreshed := make(chan error, 1)
	go func() { refreshed <- lease.Refresh(context.Background(), time.Minute) }()
	<-g.stalled

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	released := make(chan error, 1)
	go func() { released <- lease.Release(ended) }()
	select {
	case <-released:
	case <-time.After(2 * time.Second):
		t.Fatal("Release still blocked 2s later behind the stuck Refresh")
	}
	select {
	case <-g.released:
	default:
		t.Fatal("Release returned without releasing the grant")
	}
	select {
	case err := <-refreshed:
		if !errors.Is(err, ErrNotHeld) {
			t.Fatalf("the stuck Refresh returned %v, want ErrNotHeld", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stuck Refresh was not cancelled by Release")
	}
	if !errors.Is(lease.Err(), ErrReleased) {
		t.Fatalf("Err after Release = %v, want ErrReleased", lease.Err())
	}
}
