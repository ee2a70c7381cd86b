package lock

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A panic in fn goes on to Do's caller, and the lock is released on its way:
// a caller that recovers (net/http does) does not leave the key held and
// renewed for ever.
func TestPanicInFnReleasesTheLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, run := range map[string]func(l Locker, fn func(context.Context) error) error{
		"Do":    func(l Locker, fn func(context.Context) error) error { return Do(ctx, l, "a", fn) },
		"DoAll": func(l Locker, fn func(context.Context) error) error { return DoAll(ctx, l, []string{"a", "b"}, fn) },
	} {
		l := NewMemory()
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			_ = run(l, func(context.Context) error { panic("boom") })
		}()
		if recovered != "boom" {
			t.Errorf("%s: recovered %v, want fn's panic", name, recovered)
		}
		for _, key := range []string{"a", "b"} {
			lease, err := l.TryAcquire(ctx, key)
			if err != nil {
				t.Errorf("%s: %q after a panic in fn: %v", name, key, err)
				continue
			}
			_ = lease.Release(ctx)
		}
	}
}

// A nil fn is rejected before any key is acquired.
func TestNilFnIsRejectedBeforeAcquiring(t *testing.T) {
	ctx := context.Background()
	l := NewMemory()
	// "b" is held, so that an Acquire of it would block: a nil fn must be
	// caught before.
	held, err := l.TryAcquire(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for name, run := range map[string]func() error{
		"Do":    func() error { return Do(short, l, "a", nil) },
		"DoAll": func() error { return DoAll(short, l, []string{"a", "b"}, nil) },
	} {
		if err := catch(run); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s with a nil fn: %v, want ErrInvalidOption", name, err)
		}
		lease, err := l.TryAcquire(ctx, "a")
		if err != nil {
			t.Errorf("%s with a nil fn left the key held: %v", name, err)
			continue
		}
		_ = lease.Release(ctx)
	}
}
