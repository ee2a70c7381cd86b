package sqllock

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitingListeners returns the wake channels and tickets of key's queue on
// PostgreSQL, head first.
func waitingListeners(t *testing.T, db database, key string) (channels []string, tickets []int64) {
	t.Helper()
	rows, err := db.open(t).QueryContext(testCtx(t),
		"SELECT coalesce(listener, ''), ticket FROM racefree_locks_waiters WHERE lock_key = $1 ORDER BY ticket", key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var ticket int64
		if err := rows.Scan(&c, &ticket); err != nil {
			t.Fatal(err)
		}
		channels, tickets = append(channels, c), append(tickets, ticket)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return channels, tickets
}

// A release notifies the one Locker whose waiter heads the queue, on that
// Locker's own channel, not every Locker listening on the lease table: one
// notification per release, however many Lockers wait.
func TestLeaseReleaseReachesOnlyTheHeadsLocker(t *testing.T) {
	db := databases[0]
	cfg := LeaseConfig{QueueTTL: time.Minute}
	pool := db.open(t)
	k := "wake-channel"
	holder := newLeaseLocker(t, db, cfg)
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const lockers = 3
	got := make(chan granted, lockers)
	var wg sync.WaitGroup
	// However the test ends, the waiters leave (or take the key and give it
	// back) before its schema is dropped.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		close(got)
		for g := range got {
			if g.err == nil {
				_ = g.lease.Release(context.Background())
			}
		}
	})
	for i := range lockers {
		l := newLeaseLocker(t, db, cfg)
		wg.Go(func() {
			lease, err := l.Acquire(ctx, k)
			got <- granted{who: i, lease: lease, err: err}
		})
		waitQueueLen(t, pool, k, i+1)
	}
	channels, tickets := waitingListeners(t, db, k)
	seen := map[string]bool{}
	for _, c := range channels {
		if !strings.HasPrefix(c, wakeChannelPrefix) || seen[c] {
			t.Fatalf("wake channels of %d Lockers' waiters: %q, want one of its own each", lockers, channels)
		}
		seen[c] = true
	}

	// A spy on every waiting Locker's channel and on the table's.
	spy, err := pgx.Connect(testCtx(t), db.dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close(context.Background())
	for _, c := range append(channels, channelName("racefree_locks")) {
		if _, err := spy.Exec(testCtx(t), "LISTEN "+pgx.Identifier{c}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(testCtx(t), 5*time.Second)
	n, err := spy.WaitForNotification(wctx)
	wcancel()
	if err != nil {
		t.Fatalf("no notification after the release: %v", err)
	}
	if want := strconv.FormatInt(tickets[0], 10); n.Channel != channels[0] || n.Payload != want {
		t.Fatalf("notification %q on %s, want the head's ticket %s on its Locker's channel %s", n.Payload, n.Channel, want, channels[0])
	}
	wctx, wcancel = context.WithTimeout(testCtx(t), 200*time.Millisecond)
	n, err = spy.WaitForNotification(wctx)
	wcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second notification for one release: %+v, %v", n, err)
	}
	select {
	case g := <-got:
		if g.err != nil || g.who != 0 {
			t.Fatalf("after the release: waiter %d, %v; want waiter 0 granted", g.who, g.err)
		}
		if err := g.lease.Release(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the head was not granted after its notification")
	}
}

// EnsureSchema adds the listener column to a waiter table made before it.
func TestLeaseEnsureSchemaAddsListenerColumn(t *testing.T) {
	db := databases[0]
	l := newLeaseLocker(t, db, LeaseConfig{})
	pool := db.open(t)
	mustExec(t, pool, db.dialect, "ALTER TABLE racefree_locks_waiters DROP COLUMN listener")
	if err := l.EnsureSchema(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRowContext(testCtx(t), `SELECT count(*) FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'racefree_locks_waiters' AND column_name = 'listener'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("listener column after EnsureSchema: %d, want 1", n)
	}
}

// A waiter queued without a channel of its own (a polling Locker's, or an
// older Locker's) is notified on the lease table's channel, where older
// Lockers listen.
func TestLeaseReleaseNotifiesAChannellessHeadOnTheTableChannel(t *testing.T) {
	db := databases[0]
	k := "wake-table-channel"
	holder := newLeaseLocker(t, db, LeaseConfig{QueueTTL: time.Minute})
	lease, err := holder.Acquire(testCtx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	poller := newLeaseLocker(t, db, LeaseConfig{QueueTTL: time.Minute, PollOnly: true})
	done := make(chan error, 1)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // before the schema is dropped
	wg.Go(func() {
		l, err := poller.Acquire(ctx, k)
		if err == nil {
			err = l.Release(context.Background())
		}
		done <- err
	})
	waitQueueLen(t, db.open(t), k, 1)
	channels, tickets := waitingListeners(t, db, k)
	if channels[0] != "" {
		t.Fatalf("a polling Locker's waiter queued with channel %q, want none", channels[0])
	}
	spy, err := pgx.Connect(testCtx(t), db.dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close(context.Background())
	table := channelName("racefree_locks")
	if _, err := spy.Exec(testCtx(t), "LISTEN "+pgx.Identifier{table}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer wcancel()
	n, err := spy.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("no notification on the table's channel: %v", err)
	}
	if want := strconv.FormatInt(tickets[0], 10); n.Channel != table || n.Payload != want {
		t.Fatalf("notification %q on %s, want the head's ticket %s on %s", n.Payload, n.Channel, want, table)
	}
	if err := <-done; err != nil {
		t.Fatalf("polling waiter: %v", err)
	}
}
