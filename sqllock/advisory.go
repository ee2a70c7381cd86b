package sqllock

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// DefaultPingInterval is how often an AdvisoryLocker checks the connection
// of a held lease when AdvisoryConfig.PingInterval is zero.
const DefaultPingInterval = time.Second

// MinPingInterval is the shortest AdvisoryConfig.PingInterval: the interval
// also bounds how long each ping may take, so it must cover a round trip
// to the database (with room for a busy server or network).
const MinPingInterval = 10 * time.Millisecond

// AdvisoryConfig tunes an AdvisoryLocker. The zero value is ready to use.
type AdvisoryConfig struct {
	// PingInterval is how often the connection of a held lease is checked;
	// Done closes within about two intervals of that connection dying. It
	// also bounds how long each ping may take (a slower answer counts as a
	// dead connection), so it is at least MinPingInterval. Default
	// DefaultPingInterval.
	PingInterval time.Duration
}

// AdvisoryLocker is a lock.Locker on the database's session advisory locks:
// pg_advisory_lock on PostgreSQL, GET_LOCK on MariaDB. Each lease holds one
// connection of the pool for itself (database/sql's Conn): the lock lives
// as long as that session, and no longer than the lease: one that ends
// unreleased (its TTL ran out without auto-refresh, or after WithMaxHold;
// its holder hung, or skipped Release after Done closed) unlocks at its
// expiry, a safety margin after Done closed, and gives the connection back
// to the pool (this process's timer does it: a frozen process keeps the
// lock until it resumes or its connection dies). When the connection dies (the process crashed, the network
// failed, the server restarted), the server frees the lock at once, and the
// lease's Done closes once a ping notices.
//
// It needs no table and grants at the speed of one round trip, but it gives
// no fencing tokens (Token is 0): use LeaseLocker when the protected
// resource must refuse a superseded holder.
//
// Not safe behind a connection pooler in transaction mode (PgBouncer
// pool_mode=transaction, ProxySQL multiplexing): the pooler may hand the
// session that holds the lock to another client between statements. Use a
// direct connection or session mode, or LeaseLocker.
//
// Keys are hashed: to a 64-bit key on PostgreSQL (the one-argument
// pg_advisory_lock(bigint) key space; another application using advisory
// locks could collide with it with probability about n²/2⁶⁵ for n keys in
// use), and to a 57-character name "racefree:<48 hex digits>" on MariaDB,
// whose lock names are limited to 64 characters.
//
// Where a key is locked differs: PostgreSQL's advisory locks belong to the
// database of the session (not to a schema), but MariaDB's GET_LOCK names
// are global to the server, so on MariaDB a key excludes its holders across
// all databases of the server. Give the keys a prefix of your own (the
// database or tenant) where that matters. The name is not taken from the
// session's current database: a pooled connection keeps whatever database a
// USE of the application left it on, and two holders of one key could then
// take different names.
type AdvisoryLocker struct {
	*lock.Client
}

var _ lock.Locker = (*AdvisoryLocker)(nil)

// NewAdvisoryLocker returns an AdvisoryLocker on db (opened with the driver
// that matches d). defaults apply to every Acquire and TryAcquire. It does no
// I/O.
func NewAdvisoryLocker(db *sql.DB, d sqldialect.Dialect, cfg AdvisoryConfig, defaults ...lock.Option) (*AdvisoryLocker, error) {
	if err := checkPool("NewAdvisoryLocker", db, d); err != nil {
		return nil, err
	}
	switch {
	case cfg.PingInterval == 0:
		cfg.PingInterval = DefaultPingInterval
	case cfg.PingInterval < MinPingInterval:
		return nil, fmt.Errorf("%w: PingInterval %v is below %v", ErrInvalidArgument, cfg.PingInterval, MinPingInterval)
	}
	b := &advisoryBackend{db: db, d: d, ping: cfg.PingInterval}
	return &AdvisoryLocker{Client: lock.New(b, defaults...)}, nil
}

// advisoryBackend implements lock.Backend and lock.Waiter on advisory locks.
type advisoryBackend struct {
	db   *sql.DB
	d    sqldialect.Dialect
	ping time.Duration
}

var (
	_ lock.Backend = (*advisoryBackend)(nil)
	_ lock.Waiter  = (*advisoryBackend)(nil)
)

func (b *advisoryBackend) Properties() lock.Properties {
	pg := b.d == sqldialect.Postgres
	return lock.Properties{
		Name: "sqllock-advisory-" + dialectName(b.d),
		// PostgreSQL queues the waiters of pg_advisory_lock in arrival order;
		// MariaDB's waiters retry GET_LOCK every second, so may overtake.
		FIFO:          pg,
		Linearizable:  true,
		LeaseTTL:      false, // the grant lives as long as the connection
		LossDetection: 2 * b.ping,
		MinTTL:        leaseMinTTL,
	}
}

// pgAdvisoryKey hashes key into pg_advisory_lock's bigint key space.
func pgAdvisoryKey(key string) int64 {
	sum := sha256.Sum256([]byte("racefree\x00" + key))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// myLockName hashes key into a GET_LOCK name of 57 characters.
func myLockName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "racefree:" + hex.EncodeToString(sum[:24])
}

func (b *advisoryBackend) lockID(key string) any {
	if b.d == sqldialect.Postgres {
		return pgAdvisoryKey(key)
	}
	return myLockName(key)
}

func (b *advisoryBackend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	id := b.lockID(key)
	q := "SELECT pg_try_advisory_lock($1)"
	if b.d != sqldialect.Postgres {
		q = "SELECT COALESCE(GET_LOCK(?, 0), 0) = 1"
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, q, id).Scan(&ok); err != nil {
		discard(conn)
		return nil, err
	}
	if !ok {
		_ = conn.Close() // holds nothing: back to the pool
		return nil, fmt.Errorf("%w: %q is held", lock.ErrNotAcquired, key)
	}
	return b.newGrant(conn, key, id, time.Now().Add(ttl)), nil
}

// WaitGrant implements lock.Waiter.
func (b *advisoryBackend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	id := b.lockID(key)
	if b.d == sqldialect.Postgres {
		err = b.pgWait(ctx, conn, id)
	} else {
		err = myWait(ctx, conn, id)
	}
	if err != nil {
		return nil, err
	}
	return b.newGrant(conn, key, id, time.Now().Add(ttl)), nil
}

// pgWait waits in pg_advisory_lock, which queues waiters in order. When ctx
// ends, pgx breaks the connection on the client side, but the server session
// would go on waiting (and briefly take the lock): terminate it.
func (b *advisoryBackend) pgWait(ctx context.Context, conn *sql.Conn, id any) error {
	pid, err := backendPID(conn)
	if err != nil {
		discard(conn)
		return err
	}
	_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", id)
	if err == nil {
		return nil
	}
	discard(conn)
	if ctx.Err() != nil {
		killCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = b.db.ExecContext(killCtx, "SELECT pg_terminate_backend($1)", pid)
		return ctx.Err()
	}
	return err
}

// myWaitStep is the longest single GET_LOCK wait: it bounds how long a
// server session can outlive a cancelled Acquire.
const myWaitStep = time.Second

// myWait retries GET_LOCK in steps of at most myWaitStep until it is granted
// or ctx ends.
func myWait(ctx context.Context, conn *sql.Conn, id any) error {
	for {
		step := myWaitStep
		if deadline, ok := ctx.Deadline(); ok {
			step = min(step, max(time.Until(deadline), 0))
		}
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", id, step.Seconds()).Scan(&got)
		switch {
		case err != nil:
			discard(conn)
			if ctx.Err() != nil {
				return ctx.Err() // the driver may report the cut as a bad connection
			}
			return err
		case got.Valid && got.Int64 == 1:
			return nil
		case !got.Valid:
			discard(conn)
			return fmt.Errorf("sqllock: GET_LOCK(%q) failed", id)
		}
		if err := ctx.Err(); err != nil {
			_ = conn.Close()
			return err
		}
	}
}
