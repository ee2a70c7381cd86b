package sqllock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
	"github.com/racefree/racefree/sqldialect"
)

// testPing is the ping interval of the advisory Lockers under test.
const testPing = 100 * time.Millisecond

func TestAdvisoryLockerConformance(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		var mu sync.Mutex
		crashes := map[lock.Locker]func(){}
		outer := t
		locktest.Run(t, locktest.Harness{
			NewLocker: func(t *testing.T) lock.Locker {
				pool, crash := crashableDB(t, db, outer)
				l, err := NewAdvisoryLocker(pool, db.dialect, AdvisoryConfig{PingInterval: testPing})
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				crashes[l] = crash
				mu.Unlock()
				return l
			},
			Crash: func(t *testing.T, l lock.Locker) {
				mu.Lock()
				crash := crashes[l]
				mu.Unlock()
				crash()
			},
		})
	})
}

// TestAdvisoryDoneOnConnectionLoss: when the holder's connection dies, Done
// closes within the declared loss-detection bound and the key is free.
func TestAdvisoryDoneOnConnectionLoss(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		pool, crash := crashableDB(t, db, t)
		l, err := NewAdvisoryLocker(pool, db.dialect, AdvisoryConfig{PingInterval: testPing})
		if err != nil {
			t.Fatal(err)
		}
		lease, err := l.Acquire(testCtx(t), "k", lock.WithTTL(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		crash()
		props, _ := lock.PropertiesOf(l)
		select {
		case <-lease.Done():
		case <-time.After(props.LossDetection + 5*time.Second):
			t.Fatalf("Done not closed after the connection died (declared bound %v)", props.LossDetection)
		}
		if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
			t.Errorf("Err after the connection died: %v, want ErrLost", err)
		}
		other, _ := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{})
		next, err := other.Acquire(testCtx(t), "k")
		if err != nil {
			t.Fatalf("Acquire after the holder's connection died: %v", err)
		}
		_ = next.Release(testCtx(t))
		if err := lease.Release(testCtx(t)); !errors.Is(err, lock.ErrNotHeld) {
			t.Errorf("Release of the lost lease: %v, want ErrNotHeld", err)
		}
	})
}

// TestAdvisoryReleaseWithEndedContextFreesTheKey: a Release whose context
// has ended (a deferred Release after a request's end), made while a Refresh
// of the lease is on the wire, still frees the key: the advisory lock lives
// on its pooled connection until the release gives that connection up.
func TestAdvisoryReleaseWithEndedContextFreesTheKey(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		l, err := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{PingInterval: testPing})
		if err != nil {
			t.Fatal(err)
		}
		other, err := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{PingInterval: testPing})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		ended, cancel := context.WithCancel(ctx)
		cancel()
		for round := range 10 {
			lease, err := l.Acquire(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			refreshing := make(chan struct{})
			go func() {
				defer close(refreshing)
				for lease.Refresh(ctx, lock.DefaultTTL) == nil {
				}
			}()
			time.Sleep(2 * time.Millisecond)
			_ = lease.Release(ended)
			<-refreshing
			actx, cancelAcquire := context.WithTimeout(ctx, 2*time.Second)
			next, err := other.Acquire(actx, "k")
			cancelAcquire()
			if err != nil {
				t.Fatalf("round %d: another Locker's Acquire after a Release with an ended context: %v", round, err)
			}
			if err := next.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestAdvisoryBadInput(t *testing.T) {
	pool := databases[0].open(t)
	for name, err := range map[string]error{
		"nil db":        second(NewAdvisoryLocker(nil, sqldialect.Postgres, AdvisoryConfig{})),
		"nil dialect":   second(NewAdvisoryLocker(pool, 0, AdvisoryConfig{})),
		"negative ping": second(NewAdvisoryLocker(pool, sqldialect.Postgres, AdvisoryConfig{PingInterval: -1})),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if n := len(myLockName(string(make([]byte, 512)))); n > 64 {
		t.Errorf("GET_LOCK name of %d characters, limit 64", n)
	}
}

// TestAdvisoryCancelLeavesNothing: a PostgreSQL Acquire cancelled while it
// waits in pg_advisory_lock leaves no waiting session behind on the server.
func TestAdvisoryCancelLeavesNothing(t *testing.T) {
	db := databases[0]
	pool := db.open(t)
	l, _ := NewAdvisoryLocker(pool, db.dialect, AdvisoryConfig{})
	holder, err := l.Acquire(testCtx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Release(testCtx(t)) }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, "k"); err != context.DeadlineExceeded { //nolint:errorlint // returned as it is
		t.Fatalf("Acquire of a held key until the deadline: %v", err)
	}
	waiting := -1
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := pool.QueryRowContext(testCtx(t), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
			uint32(pgAdvisoryKey("k"))).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
	}
	t.Fatalf("%d sessions still wait for the advisory lock after the Acquire was cancelled", waiting)
}
