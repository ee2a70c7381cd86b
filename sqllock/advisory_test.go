package sqllock

import (
	"context"
	"database/sql"
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

// TestAdvisoryEndedLeaseFreesTheKey: a lease that ends without Release (its
// maximum hold time ran out, or its TTL without auto-refresh) while its
// holder hangs and never releases it frees the advisory lock at its expiry,
// and gives its connection back: another Locker gets the key. The
// conformance suite cannot check this (it skips WithMaxHold where LeaseTTL
// is false).
func TestAdvisoryEndedLeaseFreesTheKey(t *testing.T) {
	const ttl = 200 * time.Millisecond
	eachDB(t, func(t *testing.T, db database) {
		for name, opts := range map[string][]lock.Option{
			"max hold":        {lock.WithTTL(ttl), lock.WithMaxHold(ttl)},
			"no auto-refresh": {lock.WithTTL(ttl), lock.WithoutAutoRefresh()},
		} {
			t.Run(name, func(t *testing.T) {
				holderPool := db.open(t)
				holder, err := NewAdvisoryLocker(holderPool, db.dialect, AdvisoryConfig{PingInterval: testPing})
				if err != nil {
					t.Fatal(err)
				}
				other, _ := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{PingInterval: testPing})
				k := "ended-" + name // PostgreSQL's advisory locks are per database, not per schema
				lease, err := holder.Acquire(testCtx(t), k, opts...)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				// The holder hangs: no Release. About 2×TTL for max hold, 1×TTL otherwise.
				ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
				defer cancel()
				next, err := other.Acquire(ctx, k, lock.WithTTL(time.Minute))
				if err != nil {
					t.Fatalf("another Locker's Acquire, %v after a lease that ended unreleased: %v", time.Since(start).Round(time.Millisecond), err)
				}
				_ = next.Release(testCtx(t))
				if err := lease.Err(); !errors.Is(err, lock.ErrLost) {
					t.Errorf("Err of the ended lease: %v, want ErrLost", err)
				}
				for deadline := time.Now().Add(time.Second); holderPool.Stats().InUse != 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the ended lease still holds %d connection(s) of its pool", holderPool.Stats().InUse)
					}
				}
				if err := lease.Release(testCtx(t)); !errors.Is(err, lock.ErrNotHeld) {
					t.Errorf("Release of the ended lease: %v, want ErrNotHeld", err)
				}
			})
		}
	})
}

// TestAdvisoryPingIntervalFloor: a ping interval below MinPingInterval (it
// also bounds each ping's wait) is refused.
func TestAdvisoryPingIntervalFloor(t *testing.T) {
	pool, err := sql.Open("pgx", "") // no I/O
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pool.Close() }()
	for _, d := range []time.Duration{time.Microsecond, MinPingInterval - 1} {
		if _, err := NewAdvisoryLocker(pool, sqldialect.Postgres, AdvisoryConfig{PingInterval: d}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("PingInterval %v: %v, want ErrInvalidArgument", d, err)
		}
	}
	if _, err := NewAdvisoryLocker(pool, sqldialect.Postgres, AdvisoryConfig{PingInterval: MinPingInterval}); err != nil {
		t.Errorf("PingInterval %v: %v", MinPingInterval, err)
	}
}

// TestAdvisoryMariaDBKeysAreServerWide: on MariaDB, whose GET_LOCK names are
// global to the server, a key held through one database is held for every
// database of the server, as documented; the name does not follow a
// session's current database (a USE left on a pooled connection). (Each
// test, and each subtest, gets a database of its own.)
func TestAdvisoryMariaDBKeysAreServerWide(t *testing.T) {
	db := databases[1]
	pool := db.open(t)
	l1, err := NewAdvisoryLocker(pool, db.dialect, AdvisoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// A connection left on another database by the application.
	pool.SetMaxOpenConns(1)
	mustExec(t, pool, db.dialect, "USE information_schema")
	lease, err := l1.TryAcquire(testCtx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release(testCtx(t)) }()
	t.Run("another database", func(t *testing.T) {
		l2, _ := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{})
		if _, err := l2.TryAcquire(testCtx(t), "k"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of a key held through another database of the server: %v, want ErrNotAcquired", err)
		}
	})
}

// TestAdvisoryRefreshToAShorterTTLMovesTheExpiry: a lease refreshed to a
// short TTL and then left unreleased frees its key at the new expiry, not at
// the grant's next ping.
func TestAdvisoryRefreshToAShorterTTLMovesTheExpiry(t *testing.T) {
	db := databases[0]
	l, err := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{PingInterval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := l.Acquire(testCtx(t), "k", lock.WithTTL(time.Minute), lock.WithoutAutoRefresh())
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Refresh(testCtx(t), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	other, _ := NewAdvisoryLocker(db.open(t), db.dialect, AdvisoryConfig{})
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	next, err := other.Acquire(ctx, "k")
	if err != nil {
		t.Fatalf("Acquire within 2 s of a lease refreshed to 200ms and left unreleased (ping every 5 s): %v", err)
	}
	_ = next.Release(testCtx(t))
	_ = lease.Release(testCtx(t))
}
