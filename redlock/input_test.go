package redlock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
	"github.com/redis/go-redis/v9"
)

func TestConstructorsRejectBadInput(t *testing.T) {
	var nilClient *redis.Client
	if _, err := redlock.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := redlock.New(nilClient); err == nil {
		t.Error("New with a typed nil client succeeded")
	}
	c := testenv.Redis(t)
	if _, err := redlock.NewQuorum([]redlock.Client{c, c}); err == nil {
		t.Error("NewQuorum with 2 nodes succeeded")
	}
	if _, err := redlock.NewQuorum([]redlock.Client{c, nilClient, c}); err == nil {
		t.Error("NewQuorum with a nil node succeeded")
	}
	for name, opt := range map[string]redlock.Option{
		"negative drift factor": redlock.WithDrift(-0.1, 0),
		"drift factor 0.5":      redlock.WithDrift(0.5, 0),
		"negative drift floor":  redlock.WithDrift(0.01, -time.Millisecond),
		"zero node timeout":     redlock.WithNodeTimeout(0),
	} {
		if _, err := redlock.New(c, opt); !errors.Is(err, lock.ErrInvalidOption) {
			t.Errorf("New with %s: %v, want ErrInvalidOption", name, err)
		}
	}
}

func TestKeyWithEmptyHashTagRejected(t *testing.T) {
	l := newSingle(t, testenv.Redis(t))
	_, err := l.TryAcquire(testContext(t), "}"+key(t))
	if !errors.Is(err, lock.ErrInvalidKey) {
		t.Fatalf("TryAcquire of a key beginning with '}': %v, want ErrInvalidKey", err)
	}
	// Braces elsewhere are fine: the lock and its counter share the tag.
	lease, err := l.TryAcquire(testContext(t), key(t)+"{a}b}")
	if err != nil {
		t.Fatalf("TryAcquire of a key with braces: %v", err)
	}
	if err := lease.Release(testContext(t)); err != nil {
		t.Fatal(err)
	}
}
