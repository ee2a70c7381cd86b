package lock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// scriptedBackend grants every TryGrant and lets a test decide what refreshes
// and losses look like; it exercises the lease policy that no real backend can
// be made to misbehave for on demand.
type scriptedBackend struct {
	grant *scriptedGrant

	mu     sync.Mutex
	delays []time.Duration // how long each TryGrant takes to answer, in turn
}

func (b *scriptedBackend) Properties() Properties {
	return Properties{Name: "scripted", LeaseTTL: true, MinTTL: time.Millisecond}
}

func (b *scriptedBackend) TryGrant(context.Context, string, time.Duration) (Grant, error) {
	b.mu.Lock()
	var d time.Duration
	if len(b.delays) > 0 {
		d, b.delays = b.delays[0], b.delays[1:]
	}
	b.mu.Unlock()
	time.Sleep(d)
	return b.grant, nil
}

type scriptedGrant struct {
	refreshErr atomic.Pointer[error]
	refreshes  atomic.Int32
	released   atomic.Int32
	lost       chan struct{}
	lossOnce   sync.Once
}

func newScriptedGrant() *scriptedGrant { return &scriptedGrant{lost: make(chan struct{})} }

func (g *scriptedGrant) Token() uint64 { return 1 }
func (g *scriptedGrant) Refresh(context.Context, time.Duration) error {
	g.refreshes.Add(1)
	if p := g.refreshErr.Load(); p != nil {
		return *p
	}
	return nil
}
func (g *scriptedGrant) Release(context.Context) error { g.released.Add(1); return nil }
func (g *scriptedGrant) Lost() <-chan struct{}         { return g.lost }
func (g *scriptedGrant) LossCause() error              { return errConnectionDied }
func (g *scriptedGrant) failRefresh(err error)         { g.refreshErr.Store(&err) }

var errConnectionDied = errors.New("connection died")

func acquireScripted(t *testing.T, g *scriptedGrant, opts ...Option) Lease {
	t.Helper()
	lease, err := New(&scriptedBackend{grant: g}).Acquire(context.Background(), "k", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lease.Release(context.Background()) })
	return lease
}

func TestTransientRefreshFailureIsRetried(t *testing.T) {
	g := newScriptedGrant()
	g.failRefresh(errors.New("timeout"))
	lease := acquireScripted(t, g, WithTTL(300*time.Millisecond))
	time.Sleep(150 * time.Millisecond) // the first renewal (at 100 ms) failed
	g.refreshErr.Store(nil)
	time.Sleep(400 * time.Millisecond) // past the first TTL
	if err := lease.Err(); err != nil {
		t.Fatalf("lease lost although a retried renewal succeeded: %v", err)
	}
	if n := g.refreshes.Load(); n < 3 {
		t.Fatalf("%d renewals, want the failed one retried", n)
	}
}

func TestRenewalFailingUntilTheMarginLosesTheLease(t *testing.T) {
	g := newScriptedGrant()
	g.failRefresh(errors.New("timeout"))
	start := time.Now()
	lease := acquireScripted(t, g, WithTTL(200*time.Millisecond))
	select {
	case <-lease.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	if elapsed := time.Since(start); elapsed >= 200*time.Millisecond {
		t.Errorf("Done closed after %v, not before the 200ms TTL", elapsed)
	}
	if !errors.Is(lease.Err(), ErrLost) {
		t.Fatalf("Err = %v, want ErrLost", lease.Err())
	}
}

func TestNotHeldOnRefreshLosesTheLeaseAtOnce(t *testing.T) {
	g := newScriptedGrant()
	g.failRefresh(ErrNotHeld)
	lease := acquireScripted(t, g, WithTTL(time.Minute), WithoutAutoRefresh())
	err := lease.Refresh(context.Background(), time.Minute)
	if !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Refresh = %v, want ErrNotHeld", err)
	}
	if !errors.Is(lease.Err(), ErrLost) || !errors.Is(lease.Err(), ErrNotHeld) {
		t.Fatalf("Err = %v, want ErrLost wrapping ErrNotHeld", lease.Err())
	}
	if err := lease.Release(context.Background()); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Release of a lost lease = %v, want ErrNotHeld", err)
	}
}

func TestReportedLossEndsTheLease(t *testing.T) {
	g := newScriptedGrant()
	lease := acquireScripted(t, g, WithTTL(time.Minute))
	g.lossOnce.Do(func() { close(g.lost) })
	select {
	case <-lease.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after the backend reported the loss")
	}
	if !errors.Is(lease.Err(), ErrLost) || !errors.Is(lease.Err(), errConnectionDied) {
		t.Fatalf("Err = %v, want ErrLost wrapping the cause", lease.Err())
	}
}

func TestDoReturnsLossEvenIfFnIgnoresCtx(t *testing.T) {
	g := newScriptedGrant()
	err := Do(context.Background(), New(&scriptedBackend{grant: g}), "k", func(context.Context) error {
		g.lossOnce.Do(func() { close(g.lost) })
		time.Sleep(50 * time.Millisecond)
		return nil
	})
	if !errors.Is(err, ErrLost) {
		t.Fatalf("Do = %v, want ErrLost: fn finished unprotected", err)
	}
}

func TestReleaseCallsTheBackendOnce(t *testing.T) {
	g := newScriptedGrant()
	lease := acquireScripted(t, g)
	_ = lease.Release(context.Background())
	_ = lease.Release(context.Background())
	if n := g.released.Load(); n != 1 {
		t.Fatalf("backend Release called %d times, want 1", n)
	}
}

func TestDoAllReleasesWhatItHeldWhenOneKeyFails(t *testing.T) {
	l := NewMemory()
	ctx := context.Background()
	blocker, err := l.TryAcquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Release(ctx)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	ran := false
	err = DoAll(short, l, []string{"c", "b", "a", "a"}, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("DoAll with a held key: ran=%v err=%v", ran, err)
	}
	// "a" was taken before "b" blocked; it must be free again.
	lease, err := l.TryAcquire(ctx, "a")
	if err != nil {
		t.Fatalf("key taken before the failure was not released: %v", err)
	}
	_ = lease.Release(ctx)
	if err := DoAll(ctx, l, nil, func(context.Context) error { return nil }); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("DoAll without keys: %v", err)
	}
}

// A grant whose answer comes back after the lease deadline is given back:
// TryAcquire fails with ErrNotAcquired, Acquire tries again.
func TestLateGrantIsGivenBack(t *testing.T) {
	ctx := context.Background()
	ttl := WithTTL(40 * time.Millisecond)
	g := newScriptedGrant()
	_, err := New(&scriptedBackend{grant: g, delays: []time.Duration{50 * time.Millisecond}}).TryAcquire(ctx, "k", ttl)
	if !errors.Is(err, ErrNotAcquired) {
		t.Fatalf("TryAcquire answered after the deadline: %v, want ErrNotAcquired", err)
	}
	if n := g.released.Load(); n != 1 {
		t.Fatalf("late grant released %d times, want 1", n)
	}

	g = newScriptedGrant()
	lease, err := New(&scriptedBackend{grant: g, delays: []time.Duration{50 * time.Millisecond, 0}}).Acquire(ctx, "k", ttl)
	if err != nil {
		t.Fatalf("Acquire after one late grant: %v", err)
	}
	if err := lease.Err(); err != nil {
		t.Fatalf("lease from the second, timely grant: %v", err)
	}
	if n := g.released.Load(); n != 1 {
		t.Fatalf("late grant released %d times before the timely one, want 1", n)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitingBackend is a Waiter that records the backoff policy it was handed,
// and what BackOffOrDefault gave it.
type waitingBackend struct {
	scriptedBackend
	got       backoff.BackOff
	ok        bool
	orDefault backoff.BackOff
}

func (b *waitingBackend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (Grant, error) {
	b.got, b.ok = BackOffFrom(ctx)
	b.orDefault = BackOffOrDefault(ctx)
	return b.TryGrant(ctx, key, ttl)
}

// resetCounting is a policy that counts its resets.
type resetCounting struct{ resets int }

func (r *resetCounting) Reset()                     { r.resets++ }
func (r *resetCounting) NextBackOff() time.Duration { return time.Millisecond }

// BackOffOrDefault hands a Waiter the call's policy, or the default one for
// a context that did not come from Acquire, reset either way.
func TestBackOffOrDefault(t *testing.T) {
	if d := BackOffOrDefault(context.Background()).NextBackOff(); d < 2500*time.Microsecond || d > 7500*time.Microsecond {
		t.Fatalf("first pause of the default policy: %v, want 5 ms ± 50 %%", d)
	}
	ctx := context.Background()
	b := &waitingBackend{scriptedBackend: scriptedBackend{grant: newScriptedGrant()}}
	lease, err := New(b).Acquire(ctx, "k", WithBackOff(func() backoff.BackOff { return &resetCounting{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if r, ok := b.orDefault.(*resetCounting); !ok || r.resets != 1 {
		t.Fatalf("BackOffOrDefault in a Waiter: %#v, want the call's policy, reset once", b.orDefault)
	}
}

// A Waiter backend is handed the call's WithBackOff policy (or the default).
func TestWaiterIsHandedTheCallsBackOff(t *testing.T) {
	ctx := context.Background()
	if _, ok := BackOffFrom(ctx); ok {
		t.Fatal("BackOffFrom of a plain context: ok, want false")
	}
	b := &waitingBackend{scriptedBackend: scriptedBackend{grant: newScriptedGrant()}}
	want := backoff.NewConstantBackOff(7 * time.Millisecond)
	lease, err := New(b).Acquire(ctx, "k", WithBackOff(func() backoff.BackOff { return want }))
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if !b.ok || b.got != backoff.BackOff(want) {
		t.Fatalf("Waiter got %v (ok %v), want the call's WithBackOff policy", b.got, b.ok)
	}
	lease2, err := New(b).Acquire(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	defer lease2.Release(ctx)
	if _, isExp := b.got.(*backoff.ExponentialBackOff); !b.ok || !isExp {
		t.Fatalf("Waiter got %T (ok %v) without WithBackOff, want DefaultBackOff's", b.got, b.ok)
	}
}

// WithMaxHold counts from the grant, not from the start of the wait: a
// waiter that waited longer than maxHold still has its lease renewed.
func TestMaxHoldCountsFromTheGrant(t *testing.T) {
	ctx := context.Background()
	l := NewMemory()
	holder, err := l.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(400 * time.Millisecond)
		_ = holder.Release(ctx)
	}()
	lease, err := l.Acquire(ctx, "k", WithTTL(100*time.Millisecond), WithMaxHold(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	time.Sleep(200 * time.Millisecond) // two TTLs: only renewal keeps it
	if err := lease.Err(); err != nil {
		t.Fatalf("lease 200 ms after a grant that followed a 400 ms wait, maxHold 300 ms: %v", err)
	}
}
