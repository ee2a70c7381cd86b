package locktest

import (
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
)

func (s *suite) testBadInput(t *testing.T) {
	l := s.h.NewLocker(t)
	ctx := testContext(t)
	maxLen := s.props.MaxKeyLen
	if maxLen == 0 {
		maxLen = lock.DefaultMaxKeyLen
	}
	for _, c := range []struct {
		name, key string
		opts      []lock.Option
		want      error
	}{
		{"empty key", "", nil, lock.ErrInvalidKey},
		{"key too long", strings.Repeat("k", maxLen+1), nil, lock.ErrInvalidKey},
		{"key not UTF-8", "bad-\xff-key", nil, lock.ErrInvalidKey},
		{"zero TTL", key(t), []lock.Option{lock.WithTTL(0)}, lock.ErrInvalidOption},
		{"negative TTL", key(t), []lock.Option{lock.WithTTL(-time.Second)}, lock.ErrInvalidOption},
		{"margin not below TTL", key(t), []lock.Option{lock.WithTTL(time.Second), lock.WithSafetyMargin(time.Second)}, lock.ErrInvalidOption},
		{"negative max hold", key(t), []lock.Option{lock.WithMaxHold(-time.Second)}, lock.ErrInvalidOption},
		{"nil backoff", key(t), []lock.Option{lock.WithBackOff(nil)}, lock.ErrInvalidOption},
	} {
		_, err := l.TryAcquire(ctx, c.key, c.opts...)
		wantErr(t, "TryAcquire with "+c.name, err, c.want)
		_, err = l.Acquire(ctx, c.key, c.opts...)
		wantErr(t, "Acquire with "+c.name, err, c.want)
	}
	if s.props.MinTTL > time.Nanosecond {
		_, err := l.TryAcquire(ctx, key(t), lock.WithTTL(s.props.MinTTL-time.Nanosecond))
		wantErr(t, "TTL below the backend's minimum", err, lock.ErrInvalidOption)
	}
	lease := acquire(t, l, key(t))
	wantErr(t, "Refresh with a zero TTL", lease.Refresh(ctx, 0), lock.ErrInvalidOption)
	if err := lease.Err(); err != nil {
		t.Fatalf("a refused Refresh ended the lease: %v", err)
	}
	// A key at the length limit works.
	long := acquire(t, l, key(t)+strings.Repeat("k", maxLen-len(key(t))))
	if err := long.Release(ctx); err != nil {
		t.Fatalf("Release of a key of %d bytes: %v", maxLen, err)
	}
}

func (s *suite) testRequireFencing(t *testing.T) {
	l := s.h.NewLocker(t)
	lease, err := l.TryAcquire(testContext(t), key(t), lock.RequireFencing())
	if !s.props.Fencing {
		wantErr(t, "RequireFencing on a backend without fencing", err, lock.ErrFencingUnsupported)
		return
	}
	if err != nil {
		t.Fatalf("RequireFencing on a fencing backend: %v", err)
	}
	releaseAtCleanup(t, lease)
}
