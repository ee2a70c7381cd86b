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

// advisoryGrant is an advisory lock held by the session of conn.
type advisoryGrant struct {
	b    *advisoryBackend
	conn *sql.Conn
	key  string
	id   any // the hashed key

	mu     sync.Mutex
	expiry time.Time // local: grant or last ping plus the TTL
	closed bool      // conn given back or discarded
	cause  error
	lost   chan struct{}

	stopPing context.CancelFunc
	pingDone chan struct{}
}

var (
	_ lock.Expirer      = (*advisoryGrant)(nil)
	_ lock.LossReporter = (*advisoryGrant)(nil)
)

func (b *advisoryBackend) newGrant(conn *sql.Conn, key string, id any, expiry time.Time) *advisoryGrant {
	ctx, cancel := context.WithCancel(context.Background())
	g := &advisoryGrant{b: b, conn: conn, key: key, id: id, expiry: expiry,
		lost: make(chan struct{}), stopPing: cancel, pingDone: make(chan struct{})}
	go g.watch(ctx)
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

// watch pings the connection until ctx ends or a ping fails.
func (g *advisoryGrant) watch(ctx context.Context) {
	defer close(g.pingDone)
	t := time.NewTicker(g.b.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, g.b.ping)
		err := g.conn.PingContext(pingCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			g.loseConn(fmt.Errorf("sqllock: the connection holding the advisory lock failed: %w", err))
			return
		}
	}
}

// loseConn records the loss and discards the connection, which ends the
// session and so the lock, if it still held it.
func (g *advisoryGrant) loseConn(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed, g.cause = true, cause
	close(g.lost)
	discard(g.conn)
}

// Refresh checks that the session, and so the lock, is still there.
func (g *advisoryGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	if err := g.heldErr(); err != nil {
		return err
	}
	sent := time.Now()
	if err := g.conn.PingContext(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
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
func (g *advisoryGrant) Release(ctx context.Context) error {
	g.stopPing()
	<-g.pingDone
	if err := g.heldErr(); err != nil {
		return err
	}
	q := "SELECT pg_advisory_unlock($1)"
	if g.b.d != sqldialect.Postgres {
		q = "SELECT COALESCE(RELEASE_LOCK(?), 0) = 1"
	}
	var ok bool
	err := g.conn.QueryRowContext(ctx, q, g.id).Scan(&ok)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
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
