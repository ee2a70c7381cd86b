package sqllock

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
type advisoryGrant struct {
	b    *advisoryBackend
	conn *sql.Conn
	key  string
	id   any // the hashed key

	// io serializes the statements on conn: database/sql lets a ping run
	// while the rows of a query are still being read, which pgx refuses.
	io sync.Mutex

	mu     sync.Mutex
	expiry time.Time // local: grant or last ping plus the TTL
	closed bool      // released, or conn discarded
	cause  error
	lost   chan struct{}
	timer  *time.Timer // the next ping
}

var (
	_ lock.Expirer      = (*advisoryGrant)(nil)
	_ lock.LossReporter = (*advisoryGrant)(nil)
)

func (b *advisoryBackend) newGrant(conn *sql.Conn, key string, id any, expiry time.Time) *advisoryGrant {
	g := &advisoryGrant{b: b, conn: conn, key: key, id: id, expiry: expiry, lost: make(chan struct{})}
	g.mu.Lock()
	g.timer = time.AfterFunc(b.ping, g.ping)
	g.mu.Unlock()
	return g
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

// ping checks the connection and schedules the next check, unless the grant
// was released meanwhile. A ping that fails ends the grant as lost. It runs
// in the timer's goroutine; a Release during the ping waits for it.
func (g *advisoryGrant) ping() {
	g.io.Lock()
	defer g.io.Unlock()
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return
	}
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
		g.timer.Reset(g.b.ping)
	}
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

// Refresh checks that the session, and so the lock, is still there. The
// ping is not cut short by ctx (a ping cancelled on the wire breaks the
// connection, and with it the lock: lock cancels the renewal it runs when
// the holder releases); it is bounded by the ping interval instead.
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
	sent := time.Now()
	err := g.conn.PingContext(pingCtx)
	g.io.Unlock()
	if err != nil {
		g.loseConn(fmt.Errorf("sqllock: the connection holding the advisory lock failed: %w", err))
		return fmt.Errorf("%w: %w", lock.ErrNotHeld, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expiry = sent.Add(ttl)
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
	q := "SELECT pg_advisory_unlock($1)"
	if g.b.d != sqldialect.Postgres {
		q = "SELECT COALESCE(RELEASE_LOCK(?), 0) = 1"
	}
	var ok bool
	g.io.Lock()
	err = g.conn.QueryRowContext(ctx, q, g.id).Scan(&ok)
	g.io.Unlock()
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
