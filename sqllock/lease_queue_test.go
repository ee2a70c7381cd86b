package sqllock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/racefree/racefree/lock"
)

// countingConn counts the grant attempts (the queue's statement) sent on a
// pgx connection. It is still a pgx connection to the listener (Conn).
type countingConn struct {
	*pgxDriverConn
	attempts *atomic.Int64
}

// pgxDriverConn is embedded under this name, so that its Conn method is
// promoted (a field named Conn would hide it).
type pgxDriverConn = stdlib.Conn

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if strings.HasPrefix(query, "WITH granted AS") || strings.HasPrefix(query, "INSERT INTO") {
		c.attempts.Add(1)
	}
	return c.pgxDriverConn.QueryContext(ctx, query, args)
}

type countingConnector struct {
	driver.Connector
	attempts *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{pgxDriverConn: dc.(*stdlib.Conn), attempts: c.attempts}, nil
}

// countedLeaseLocker is a PostgreSQL LeaseLocker on t's schema (the table
// made by newLeaseLocker) whose grant attempts are counted in attempts.
func countedLeaseLocker(t *testing.T, cfg LeaseConfig, attempts *atomic.Int64) *LeaseLocker {
	t.Helper()
	db := databases[0]
	newLeaseLocker(t, db, cfg) // the schema
	pc, err := pgx.ParseConfig(db.dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	pool := sql.OpenDB(countingConnector{Connector: stdlib.GetConnector(*pc), attempts: attempts})
	t.Cleanup(func() { _ = pool.Close() })
	l, err := NewLeaseLocker(pool, db.dialect, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// queueLen counts the places queued for key, expired or not.
func queueLen(t *testing.T, pool *sql.DB, key string) int {
	t.Helper()
	var n int
	if err := pool.QueryRowContext(testCtx(t), "SELECT count(*) FROM racefree_locks_waiters WHERE lock_key = $1", key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitQueueLen waits until key has want places queued.
func waitQueueLen(t *testing.T, pool *sql.DB, key string, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); queueLen(t, pool, key) != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queue of %q: %d places, want %d", key, queueLen(t, pool, key), want)
		}
	}
}

type granted struct {
	who   int
	lease lock.Lease
	err   error
}

// TestLeaseReleaseWakesOneWaiter: with waiters of one key in four Lockers
// (as four processes) and a waiter of another key, each release makes
// exactly one grant attempt, by the head of the released key's queue, and
// the key passes down the queue in order. The queue TTL is long, so no
// renewal poll interferes.
func TestLeaseReleaseWakesOneWaiter(t *testing.T) {
	cfg := LeaseConfig{QueueTTL: time.Minute}
	pool := databases[0].open(t)
	var holderAttempts, otherAttempts atomic.Int64
	holder := countedLeaseLocker(t, cfg, &holderAttempts)
	k, other := "wake-one", "wake-other"
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	otherLease, err := holder.Acquire(testCtx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = otherLease.Release(testCtx(t)) }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	otherDone := make(chan error, 1)
	otherWaiter := countedLeaseLocker(t, cfg, &otherAttempts)
	go func() {
		l, err := otherWaiter.Acquire(ctx, other)
		if err == nil {
			err = l.Release(context.Background())
		}
		otherDone <- err
	}()
	waitQueueLen(t, pool, other, 1)

	const waiters = 4
	attempts := make([]atomic.Int64, waiters)
	got := make(chan granted, waiters)
	for i := range waiters {
		l := countedLeaseLocker(t, cfg, &attempts[i])
		go func() {
			lease, err := l.Acquire(ctx, k)
			got <- granted{who: i, lease: lease, err: err}
		}()
		waitQueueLen(t, pool, k, i+1) // queued in this order
	}
	total := func() int64 {
		var n int64
		for i := range attempts {
			n += attempts[i].Load()
		}
		return n + otherAttempts.Load()
	}
	time.Sleep(50 * time.Millisecond) // each waiter's retry after listening
	for want := range waiters {
		before := total()
		if err := lease.Release(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		g := <-got
		if g.err != nil {
			t.Fatalf("waiter %d: %v", g.who, g.err)
		}
		if g.who != want {
			t.Errorf("release %d went to waiter %d, want %d (queue order)", want, g.who, want)
		}
		time.Sleep(50 * time.Millisecond) // time for a herd to show
		if n := total() - before; n != 1 {
			t.Errorf("release %d: %d grant attempts, want 1 (the woken head's)", want, n)
		}
		lease = g.lease
	}
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := otherAttempts.Load(); n != 2 {
		t.Errorf("waiter of another key: %d attempts, want 2 (queueing, and its retry once listening)", n)
	}
	if err := otherLease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-otherDone; err != nil {
		t.Fatalf("waiter of the other key: %v", err)
	}
	if n := queueLen(t, pool, k); n != 0 {
		t.Errorf("%d places left in the queue after every waiter was served", n)
	}
}

// TestLeaseDeadWaiterSkipped: a waiter whose process died right after
// queueing (a place nobody renews) holds the key back until its deadline
// and no longer: the live waiter behind it gets the key then.
func TestLeaseDeadWaiterSkipped(t *testing.T) {
	db := databases[0]
	pool := db.open(t)
	holder := newLeaseLocker(t, db, LeaseConfig{})
	k := "dead-waiter"
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	const deadFor = 2 * time.Second
	mustExec(t, pool, db.dialect, "INSERT INTO racefree_locks_waiters (lock_key, ticket, deadline) VALUES (?, nextval('racefree_locks_token'), clock_timestamp() + ?::float8 * interval '1 microsecond')", k, deadFor.Microseconds())

	const queueTTL = 300 * time.Millisecond
	live := newLeaseLocker(t, db, LeaseConfig{QueueTTL: queueTTL})
	got := make(chan granted, 1)
	go func() {
		lease, err := live.Acquire(testCtx(t), k)
		got <- granted{lease: lease, err: err}
	}()
	waitQueueLen(t, pool, k, 2)
	released := time.Now()
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		t.Fatalf("the live waiter overtook the dead one's unexpired place (%v)", g.err)
	case <-time.After(200 * time.Millisecond):
	}
	g := <-got
	if g.err != nil {
		t.Fatalf("live waiter: %v", g.err)
	}
	defer func() { _ = g.lease.Release(testCtx(t)) }()
	// Generous for a loaded machine; the bound is deadFor plus a renewal.
	if waited, limit := time.Since(released), deadFor+queueTTL/3+time.Second; waited > limit {
		t.Errorf("live waiter got the key %v after the release, more than %v", waited, limit)
	}
	if n := queueLen(t, pool, k); n != 0 {
		t.Errorf("%d places left in the queue: the grant should have swept the dead one", n)
	}
}

// TestLeaseCancelledWaiterLeavesQueue: an Acquire that gives up leaves no
// place behind, and so does not delay the next waiter.
func TestLeaseCancelledWaiterLeavesQueue(t *testing.T) {
	db := databases[0]
	pool := db.open(t)
	holder := newLeaseLocker(t, db, LeaseConfig{})
	k := "cancelled-waiter"
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := newLeaseLocker(t, db, LeaseConfig{}).Acquire(ctx, k); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire of a held key until the deadline: %v", err)
	}
	if n := queueLen(t, pool, k); n != 0 {
		t.Errorf("%d places left in the queue by the cancelled waiter", n)
	}
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	next, err := newLeaseLocker(t, db, LeaseConfig{}).TryAcquire(testCtx(t), k)
	if err != nil {
		t.Fatalf("TryAcquire after the only waiter gave up: %v", err)
	}
	_ = next.Release(testCtx(t))
}

// TestLeaseTryAcquireRespectsQueue: a TryAcquire does not take a key that a
// queued waiter is about to get, even in the instant it is free.
func TestLeaseTryAcquireRespectsQueue(t *testing.T) {
	db := databases[0]
	pool := db.open(t)
	holder := newLeaseLocker(t, db, LeaseConfig{})
	k := "no-barging"
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan granted, 1)
	go func() {
		lease, err := newLeaseLocker(t, db, LeaseConfig{}).Acquire(testCtx(t), k)
		got <- granted{lease: lease, err: err}
	}()
	waitQueueLen(t, pool, k, 1)
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The releaser tries again at once: the waiter's turn.
	if again, err := holder.TryAcquire(testCtx(t), k); !errors.Is(err, lock.ErrNotAcquired) {
		if again != nil {
			_ = again.Release(testCtx(t))
		}
		t.Errorf("TryAcquire right after the release, with a waiter queued: %v, want ErrNotAcquired", err)
	}
	g := <-got
	if g.err != nil {
		t.Fatalf("waiter: %v", g.err)
	}
	_ = g.lease.Release(testCtx(t))
}

// TestLeaseListenerOutsideThePool: the listener of a PostgreSQL LeaseLocker
// takes no connection of the Locker's pool for itself. On a pool of one
// connection, with a waiter listening, the holder's Release still runs and
// the waiter is granted the key.
func TestLeaseListenerOutsideThePool(t *testing.T) {
	db := databases[0]
	newLeaseLocker(t, db, LeaseConfig{}) // the schema
	pool := db.open(t)
	pool.SetMaxOpenConns(1)
	l, err := NewLeaseLocker(pool, db.dialect, LeaseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const k = "small-pool"
	lease, err := l.Acquire(testCtx(t), k, lock.WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancelWait := context.WithTimeout(context.Background(), 10*time.Second)
	got := make(chan error, 1)
	go func() {
		w, err := l.Acquire(waitCtx, k, lock.WithTTL(time.Minute))
		if err == nil {
			err = w.Release(waitCtx)
		}
		got <- err
	}()
	defer func() { cancelWait(); <-got }()

	// Wait until the waiter's listener listens on its channel.
	monitor := db.open(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := monitor.QueryRowContext(testCtx(t), `SELECT count(*) FROM pg_stat_activity a JOIN racefree_locks_waiters w
ON a.query = 'LISTEN "' || w.listener || '"' WHERE w.lock_key = $1`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not listen")
		}
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	if err := lease.Release(ctx); err != nil {
		t.Fatalf("the holder's Release on a pool of one connection, with a waiter listening: %v", err)
	}
	select {
	case err := <-got:
		got <- err // for the deferred wait
		if err != nil {
			t.Fatalf("the waiter on a pool of one connection: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter on a pool of one connection was not granted the key 5 s after its release")
	}
}

// TestLeaseWaiterPollsWhenItCannotListen: a waiter whose listening
// connection cannot be opened (the server refuses credentials that the
// pool's connect hook has since rotated, say) polls instead of failing its
// Acquire, and is granted the key after its release.
func TestLeaseWaiterPollsWhenItCannotListen(t *testing.T) {
	db := databases[0]
	l := newLeaseLocker(t, db, LeaseConfig{})
	dial := listenDial
	listenDial = func(context.Context, *pgx.ConnConfig) (*pgx.Conn, error) {
		return nil, errors.New("FATAL: role is not permitted to log in (SQLSTATE 28000)")
	}
	defer func() { listenDial = dial }()
	const k = "cannot-listen"
	lease, err := l.Acquire(testCtx(t), k, lock.WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w, err := l.Acquire(ctx, k, lock.WithTTL(time.Minute))
		if err == nil {
			err = w.Release(ctx)
		}
		got <- err
	}()
	// Released only once the waiter has queued (and so tried to listen):
	// a waiter that came late would take the free key without listening.
	monitor := db.open(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := monitor.QueryRowContext(testCtx(t), `SELECT count(*) FROM racefree_locks_waiters WHERE lock_key = $1`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not queue within 5 s")
		}
	}
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the waiter that could not listen: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter that could not listen was not granted the key 10 s after its release")
	}
}
