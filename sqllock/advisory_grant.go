package sqllock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// advisoryGrant is an advisory lock held by the session of conn. A timer
// pings the connection every ping interval (no goroutine waits between
// pings); Release stops it and sends the unlock at once, after a ping only
// if one is on the wire at that moment.
//
// The session would keep the lock for as long as the process lives, but
// the lease does not: it ends a safety margin before the grant's expiry
// (its TTL from the grant or the last Refresh) when auto-refresh is off or
// bounded by WithMaxHold, or when renewal failed. Nothing tells the grant
// that its lease ended, so the timer also fires at that expiry, and a grant
// still held then (its holder never called Release) unlocks and gives its
// connection back by itself: the key is free for others at the expiry, as
// on a backend whose server expires leases.
type advisoryGrant struct {
	b    *advisoryBackend
	conn *sql.Conn
	key  string
	id   any // the hashed key

	// io serializes the statements on conn: database/sql lets a ping run
	// while the rows of a query are still being read, which pgx refuses.
	// It is taken before mu, never while mu is held.
	io sync.Mutex

	mu       sync.Mutex
	expiry   time.Time // local: grant or last refresh plus the TTL
	nextPing time.Time // when the connection is next due for a check
	closed   bool      // released, expired, or conn discarded
	cause    error
	lost     chan struct{}
	timer    *time.Timer // the next ping, or the expiry if sooner
}

var (
	_ lock.Expirer      = (*advisoryGrant)(nil)
	_ lock.LossReporter = (*advisoryGrant)(nil)
)

// errAdvisoryExpired is the loss cause of a grant that freed itself at its
// expiry.
var errAdvisoryExpired = errors.New("sqllock: the advisory lease expired unreleased; its lock was freed")

// advisoryUnlockTimeout bounds the unlock a grant sends at its expiry; the
// connection is discarded (which frees the lock too) if it takes longer.
const advisoryUnlockTimeout = 5 * time.Second

func (b *advisoryBackend) newGrant(conn *sql.Conn, key string, id any, expiry time.Time) *advisoryGrant {
	now := time.Now()
	g := &advisoryGrant{b: b, conn: conn, key: key, id: id, expiry: expiry, nextPing: now.Add(b.ping), lost: make(chan struct{})}
	g.mu.Lock()
	g.timer = time.AfterFunc(g.wakeLocked(now), g.tick)
	g.mu.Unlock()
	return g
}

// wakeLocked is how long from now the timer should next fire: at the next
// ping or the expiry, whichever comes first.
func (g *advisoryGrant) wakeLocked(now time.Time) time.Duration {
	wake := g.nextPing
	if g.expiry.Before(wake) {
		wake = g.expiry
	}
	return wake.Sub(now)
}

func (g *advisoryGrant) Token() uint64 { return 0 }

func (g *advisoryGrant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expiry
}

func (g *advisoryGrant) Lost() <-chan struct{} { return g.lost }

func (g *advisoryGrant) LossCause() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cause
}

// tick frees the grant once it has expired unreleased, else checks the
// connection when a ping is due, and sets the timer for the next of the two,
// unless the grant was released meanwhile. A ping that fails ends the grant
// as lost. It runs in the timer's goroutine; a Release during the ping waits
// for it.
func (g *advisoryGrant) tick() {
	g.io.Lock()
	defer g.io.Unlock()
	g.mu.Lock()
	now := time.Now()
	switch {
	case g.closed:
		g.mu.Unlock()
		return
	case !now.Before(g.expiry):
		g.mu.Unlock()
		g.expire()
		return
	case now.Before(g.nextPing): // a Refresh pinged meanwhile, or the expiry moved
		g.timer.Reset(g.wakeLocked(now))
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), g.b.ping)
	err := g.conn.PingContext(ctx)
	cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
	case err != nil:
		g.loseConnLocked(fmt.Errorf("sqllock: the connection holding the advisory lock failed: %w", err))
	default:
		now = time.Now()
		g.nextPing = now.Add(g.b.ping)
		g.timer.Reset(g.wakeLocked(now))
	}
}

// expire ends a grant whose expiry has passed without a Release: it is
// recorded as lost, and the lock is unlocked (or its connection discarded).
// g.io is held.
func (g *advisoryGrant) expire() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed, g.cause = true, errAdvisoryExpired
	g.timer.Stop()
	close(g.lost)
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), advisoryUnlockTimeout)
	defer cancel()
	_ = g.unlock(ctx)
}

// loseConn records the loss and discards the connection, which ends the
// session and so the lock, if it still held it.
func (g *advisoryGrant) loseConn(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.loseConnLocked(cause)
}

func (g *advisoryGrant) loseConnLocked(cause error) {
	if g.closed {
		return
	}
	g.closed, g.cause = true, cause
	g.timer.Stop()
	close(g.lost)
	discard(g.conn)
}

// Refresh checks that the session, and so the lock, is still there, and
// moves the grant's expiry to ttl from now. It never revives a grant past
// its expiry: that grant has freed its lock, or is about to. The ping is not
// cut short by ctx (a ping cancelled on the wire breaks the connection, and
// with it the lock: lock cancels the renewal it runs when the holder
// releases); it is bounded by the ping interval instead.
func (g *advisoryGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	if err := g.heldErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pingCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.b.ping)
	defer cancel()
	g.io.Lock()
	defer g.io.Unlock()
	g.mu.Lock()
	sent := time.Now()
	expired := !sent.Before(g.expiry)
	err := g.heldErrLocked()
	g.mu.Unlock()
	if expired {
		g.expire()
		return g.heldErr()
	}
	if err != nil {
		return err // ended while this Refresh waited for the connection
	}
	err = g.conn.PingContext(pingCtx)
	if err != nil {
		g.loseConn(fmt.Errorf("sqllock: the connection holding the advisory lock failed: %w", err))
		return fmt.Errorf("%w: %w", lock.ErrNotHeld, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.heldErrLocked(); err != nil {
		return err
	}
	g.expiry, g.nextPing = sent.Add(ttl), sent.Add(g.b.ping)
	// A shorter TTL brings the expiry before the timer's next wake.
	g.timer.Reset(g.wakeLocked(time.Now()))
	return nil
}

func (g *advisoryGrant) heldErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heldErrLocked()
}

func (g *advisoryGrant) heldErrLocked() error {
	switch {
	case g.cause != nil:
		return fmt.Errorf("%w: %w", lock.ErrNotHeld, g.cause)
	case g.closed:
		return fmt.Errorf("%w: %q already released", lock.ErrNotHeld, g.key)
	}
	return nil
}

// Release unlocks and gives the connection back to the pool. If the unlock
// fails, the connection is discarded instead, which frees the lock too.
// Nothing is waited for before the unlock is sent: the ping timer is only
// stopped.
func (g *advisoryGrant) Release(ctx context.Context) error {
	g.mu.Lock()
	err := g.heldErrLocked()
	if err == nil {
		g.closed = true
		g.timer.Stop()
	}
	g.mu.Unlock()
	if err != nil {
		return err
	}
	g.io.Lock()
	defer g.io.Unlock()
	return g.unlock(ctx)
}

// unlock sends the unlock and gives the connection back to the pool, or
// discards it when the unlock fails. g.io is held.
func (g *advisoryGrant) unlock(ctx context.Context) error {
	q := "SELECT pg_advisory_unlock($1)"
	if g.b.d != sqldialect.Postgres {
		q = "SELECT COALESCE(RELEASE_LOCK(?), 0) = 1"
	}
	var ok bool
	err := g.conn.QueryRowContext(ctx, q, g.id).Scan(&ok)
	switch {
	case err != nil:
		discard(g.conn)
		return fmt.Errorf("sqllock: unlock %q (connection discarded, which frees it): %w", g.key, err)
	case !ok:
		discard(g.conn)
		return fmt.Errorf("%w: the session no longer held %q", lock.ErrNotHeld, g.key)
	}
	return g.conn.Close()
}

// discard closes conn without giving it back to the pool: its session ends.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// backendPID is the server process id of conn's PostgreSQL session (no I/O:
// pgx learned it at connect).
func backendPID(conn *sql.Conn) (uint32, error) {
	var pid uint32
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("%w: the Postgres dialect needs the pgx driver, not %T", ErrInvalidArgument, dc)
		}
		pid = sc.Conn().PgConn().PID()
		return nil
	})
	return pid, err
}
