package lock

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// catch runs f and turns a panic into an error, so that a test reports it as
// a failure instead of crashing.
func catch(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// New(nil) gives a Locker whose calls fail with ErrInvalidOption.
func TestNilBackendIsAnError(t *testing.T) {
	ctx := context.Background()
	for name, call := range map[string]func(*Client) error{
		"Acquire":    func(c *Client) error { _, err := c.Acquire(ctx, "k"); return err },
		"TryAcquire": func(c *Client) error { _, err := c.TryAcquire(ctx, "k"); return err },
	} {
		err := catch(func() error { return call(New(nil)) })
		if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s on New(nil): %v, want ErrInvalidOption", name, err)
		}
	}
}

// A nil Option, given to New or to a call, is an error, not a panic.
func TestNilOptionIsAnError(t *testing.T) {
	ctx := context.Background()
	err := catch(func() error { _, err := NewMemory().TryAcquire(ctx, "k", nil); return err })
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("TryAcquire with a nil Option: %v, want ErrInvalidOption", err)
	}
	err = catch(func() error { _, err := NewMemory(nil).Acquire(ctx, "k"); return err })
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Acquire on NewMemory(nil Option): %v, want ErrInvalidOption", err)
	}
}

// busyBackend never grants: every TryGrant finds the key held.
type busyBackend struct{}

func (b *busyBackend) Properties() Properties {
	return Properties{Name: "busy", LeaseTTL: true}
}

func (b *busyBackend) TryGrant(context.Context, string, time.Duration) (Grant, error) {
	return nil, ErrNotAcquired
}

// A WithBackOff constructor that returns no policy is an error, whether the
// Client polls or the backend waits by itself.
func TestNilBackOffPolicyIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nilPolicy := WithBackOff(func() backoff.BackOff { return nil })
	err := catch(func() error { _, err := New(&busyBackend{}).Acquire(ctx, "k", nilPolicy); return err })
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("polling Acquire with a nil policy: %v, want ErrInvalidOption", err)
	}
	w := &waitingBackend{scriptedBackend: scriptedBackend{grant: newScriptedGrant()}}
	err = catch(func() error {
		lease, err := New(w).Acquire(ctx, "k", nilPolicy)
		if err == nil {
			_ = lease.Release(ctx)
		}
		return err
	})
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("waiting Acquire with a nil policy: %v, want ErrInvalidOption", err)
	}
}

// Backend.Properties is called once, by New, not once per lease.
func TestPropertiesCalledOnceByNew(t *testing.T) {
	b := &countingBackend{scriptedBackend: scriptedBackend{grant: newScriptedGrant()}}
	c := New(b)
	for range 3 {
		lease, err := c.TryAcquire(context.Background(), "k")
		if err != nil {
			t.Fatal(err)
		}
		_ = lease.Release(context.Background())
	}
	if n := b.properties.Load(); n != 1 {
		t.Fatalf("Properties called %d times for three leases, want once", n)
	}
}

// countingBackend is a scriptedBackend that counts its Properties calls.
type countingBackend struct {
	scriptedBackend
	properties atomic.Int32
}

func (b *countingBackend) Properties() Properties {
	b.properties.Add(1)
	return b.scriptedBackend.Properties()
}
