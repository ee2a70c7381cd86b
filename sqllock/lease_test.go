package sqllock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
	"github.com/racefree/racefree/sqldialect"
)

var schemaMade sync.Map // testing.TB -> struct{}: the lease table exists in its schema

// newLeaseLocker returns a LeaseLocker with its own pool on t's schema,
// creating the lease table the first time.
func newLeaseLocker(t testing.TB, db database, cfg LeaseConfig, defaults ...lock.Option) *LeaseLocker {
	t.Helper()
	l, err := NewLeaseLocker(db.open(t), db.dialect, cfg, defaults...)
	if err != nil {
		t.Fatal(err)
	}
	if _, done := schemaMade.LoadOrStore(t, struct{}{}); !done {
		t.Cleanup(func() { schemaMade.Delete(t) })
		if err := l.EnsureSchema(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestLeaseLockerConformance(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		newLeaseLocker(t, db, LeaseConfig{}) // the schema, once, before the clocks of the cases start
		outer := t
		locktest.Run(t, locktest.Harness{
			NewLocker: func(t *testing.T) lock.Locker {
				l, err := NewLeaseLocker(db.openOn(outer, t), db.dialect, LeaseConfig{})
				if err != nil {
					t.Fatal(err)
				}
				return l
			},
		})
	})
}

// TestLeaseNotifyWakesWaiter proves that a PostgreSQL waiter is woken by the
// release's NOTIFY: with a queue TTL of three minutes it would not try again
// for a minute otherwise.
func TestLeaseNotifyWakesWaiter(t *testing.T) {
	db := databases[0]
	holder := newLeaseLocker(t, db, LeaseConfig{})
	k := "notify-" + t.Name()
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	waiter := newLeaseLocker(t, db, LeaseConfig{QueueTTL: 3 * time.Minute})
	got := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		l, err := waiter.Acquire(ctx, k)
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond) // the waiter has tried once and listens
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter after a release it should have heard of: %v", err)
	}
}

func TestLeasePollOnly(t *testing.T) {
	db := databases[0]
	a := newLeaseLocker(t, db, LeaseConfig{PollOnly: true})
	b := newLeaseLocker(t, db, LeaseConfig{PollOnly: true})
	lease, err := a.Acquire(testCtx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { _ = lease.Release(context.Background()) })
	next, err := b.Acquire(testCtx(t), "k")
	if err != nil {
		t.Fatalf("polling waiter: %v", err)
	}
	if next.Token() <= lease.Token() {
		t.Errorf("token %d after %d", next.Token(), lease.Token())
	}
	_ = next.Release(testCtx(t))
}

func TestLeaseLockerBadInput(t *testing.T) {
	pool := databases[0].open(t)
	for name, err := range map[string]error{
		"nil db":      second(NewLeaseLocker(nil, sqldialect.Postgres, LeaseConfig{})),
		"nil dialect": second(NewLeaseLocker(pool, 0, LeaseConfig{})),
		"bad table":   second(NewLeaseLocker(pool, sqldialect.Postgres, LeaseConfig{Table: "locks; --"})),
		"queue TTL":   second(NewLeaseLocker(pool, sqldialect.Postgres, LeaseConfig{QueueTTL: time.Millisecond})),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	l := newLeaseLocker(t, databases[0], LeaseConfig{})
	if _, err := l.TryAcquire(testCtx(t), "nul\x00key"); !errors.Is(err, lock.ErrInvalidKey) {
		t.Errorf("key with NUL: %v, want ErrInvalidKey", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestLeaseConcurrentEnsureSchema: several EnsureSchema calls at once on a
// schema that has none of the tables all succeed (PostgreSQL's CREATE ... IF
// NOT EXISTS is not safe against a concurrent create of the same name).
func TestLeaseConcurrentEnsureSchema(t *testing.T) {
	eachDB(t, func(t *testing.T, db database) {
		const callers = 6
		pools := make([]*sql.DB, callers)
		for i := range pools {
			pools[i] = db.open(t)
			if err := pools[i].PingContext(testCtx(t)); err != nil { // connected before the race starts
				t.Fatal(err)
			}
		}
		for round := range 4 {
			table := fmt.Sprintf("concurrent_schema_%d", round)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, pool := range pools {
				l, err := NewLeaseLocker(pool, db.dialect, LeaseConfig{Table: table})
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					<-start
					errs[i] = l.EnsureSchema(testCtx(t))
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("table %s, caller %d of %d at once: %v", table, i, callers, err)
				}
			}
			l, _ := NewLeaseLocker(pools[0], db.dialect, LeaseConfig{Table: table})
			lease, err := l.TryAcquire(testCtx(t), "k")
			if err != nil {
				t.Fatalf("table %s: TryAcquire after the concurrent EnsureSchema: %v", table, err)
			}
			_ = lease.Release(testCtx(t))
		}
	})
}
