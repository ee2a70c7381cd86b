package sqllock

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// DefaultLeaseTable is the lease table of a LeaseLocker whose LeaseConfig
// names none. Its sequence is the table's name followed by "_token", and on
// PostgreSQL its waiter queue the table's name followed by "_waiters".
const DefaultLeaseTable = "racefree_locks"

// DefaultQueueTTL is how long a queued PostgreSQL waiter keeps its place
// without renewing it, when LeaseConfig.QueueTTL is zero.
const DefaultQueueTTL = time.Second

// LeaseConfig tunes a LeaseLocker. The zero value is ready to use.
type LeaseConfig struct {
	// Table is the lease table, a plain identifier, optionally
	// schema-qualified; default DefaultLeaseTable.
	Table string

	// PollOnly turns off LISTEN/NOTIFY on PostgreSQL: waiters keep their
	// place in the queue and poll (jittered, from 5 ms up to a third of
	// QueueTTL), so the head learns of a release at its next poll. Set it
	// when no session-mode connection is available for listening (e.g. only
	// PgBouncer in transaction mode). On PostgreSQL the waits are the
	// queue's, so lock.WithBackOff does not apply.
	PollOnly bool

	// QueueTTL is how long a waiter queued on PostgreSQL keeps its place
	// without renewing it; waiters renew (and try again) every third of it.
	// A waiter whose process died holds up the queue for at most QueueTTL
	// plus a third. Default DefaultQueueTTL; at least 30 ms.
	QueueTTL time.Duration
}

// minQueueTTL is the shortest LeaseConfig.QueueTTL: below it a renewal's
// round trip eats the waiter's place.
const minQueueTTL = 30 * time.Millisecond

// LeaseLocker is a lock.Locker on a table of leases: one row per key with
// the holder's fencing token and an expiry. Granting, refreshing and
// releasing are each a single conditional statement, expiry is judged by the
// database's clock alone, and tokens come from a database sequence, so it
// works through any connection pooler (PgBouncer in transaction mode too,
// with PollOnly) and from any number of processes.
//
// Create the tables with EnsureSchema, or put the statements of Schema in a
// migration. Rows are never deleted: a released or expired lease stays as a
// row that the next grant takes over, which is what keeps tokens increasing
// per key. Expect one small row per distinct key.
//
// On PostgreSQL, waiters queue in a second table (the lease table's name
// followed by "_waiters"), one row per waiting Acquire, gone once it is
// granted or gives up: grants follow the queue (FIFO), a release wakes only
// the head of its key's queue, and a TryAcquire fails while a live waiter
// is queued. A lease table made before the queue existed, or a queue made
// before its listener column (each waiter's wake channel), needs
// EnsureSchema (or the statements of Schema) again. Lockers from before that
// column listened on a channel named after the table; releases still notify
// there for waiters queued without a channel. Mixing the two is safe, but a
// new waiter released by an old Locker learns of it only at its next poll.
//
// While a PostgreSQL LeaseLocker has waiters it listens for releases on one
// connection of its own, which it opens outside its pool with the pgx
// settings (server, database, credentials, TLS, dialer) of the pool's
// connections: a pool of any size, even one connection, stays free for the
// statements of holders and waiters. That connection counts against the
// server's max_connections, not against the pool's SetMaxOpenConns.
type LeaseLocker struct {
	*lock.Client
	b *leaseBackend
}

var _ lock.Locker = (*LeaseLocker)(nil)

// NewLeaseLocker returns a LeaseLocker on db (opened with the driver that
// matches d). defaults apply to every Acquire and TryAcquire. It does no
// I/O.
func NewLeaseLocker(db *sql.DB, d sqldialect.Dialect, cfg LeaseConfig, defaults ...lock.Option) (*LeaseLocker, error) {
	if err := checkPool("NewLeaseLocker", db, d); err != nil {
		return nil, err
	}
	table := cfg.Table
	if table == "" {
		table = DefaultLeaseTable
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	switch {
	case cfg.QueueTTL == 0:
		cfg.QueueTTL = DefaultQueueTTL
	case cfg.QueueTTL < minQueueTTL:
		return nil, fmt.Errorf("%w: QueueTTL %v is below %v", ErrInvalidArgument, cfg.QueueTTL, minQueueTTL)
	}
	b := &leaseBackend{db: db, d: d, table: quote(d, table), seq: quote(d, table+"_token")}
	if d != sqldialect.Postgres {
		return &LeaseLocker{Client: lock.New(b, defaults...), b: b}, nil
	}
	b.waiters = quote(d, table+"_waiters")
	pg := &pgLeaseBackend{leaseBackend: b, queueTTL: cfg.QueueTTL}
	pg.makeAttemptSQL()
	if !cfg.PollOnly {
		pg.listener = newListener(db)
	}
	return &LeaseLocker{Client: lock.New(pg, defaults...), b: b}, nil
}

// Schema returns the statements that create the lease table, its sequence
// and, on PostgreSQL, its waiter queue, for a migration. EnsureSchema runs
// them. The last PostgreSQL statement adds the queue's listener column to a
// queue made before it; until it has run there, Acquire and Release fail on
// that table. (ALTER TABLE locks the queue for a moment even when the column
// exists, and needs its owner: EnsureSchema runs it only when the column is
// missing.)
func (l *LeaseLocker) Schema() []string {
	if l.b.d == sqldialect.Postgres {
		return []string{
			"CREATE SEQUENCE IF NOT EXISTS " + l.b.seq,
			"CREATE TABLE IF NOT EXISTS " + l.b.table + ` (
	lock_key   text COLLATE "C" PRIMARY KEY,
	token      bigint NOT NULL,
	expires_at timestamptz NOT NULL
)`,
			// The waiters of each key in the order of their tickets (drawn
			// from the token sequence); deadline is renewed while they wait;
			// listener is the NOTIFY channel of the waiter's Locker (NULL
			// when it polls only).
			"CREATE TABLE IF NOT EXISTS " + l.b.waiters + ` (
	lock_key text COLLATE "C" NOT NULL,
	ticket   bigint NOT NULL,
	deadline timestamptz NOT NULL,
	listener text,
	PRIMARY KEY (lock_key, ticket)
)`,
			// Waiter tables made before the listener column.
			l.addListenerColumn(),
		}
	}
	return []string{
		// The sequence's cache is shared by all connections of the server,
		// so values still increase in the order they are handed out.
		"CREATE SEQUENCE IF NOT EXISTS " + l.b.seq,
		"CREATE TABLE IF NOT EXISTS " + l.b.table + ` (
	lock_key   VARBINARY(512) NOT NULL PRIMARY KEY,
	token      BIGINT UNSIGNED NOT NULL,
	expires_at DATETIME(6) NOT NULL
) ENGINE=InnoDB`,
	}
}

// addListenerColumn is the statement of Schema that adds the listener column
// to a PostgreSQL waiter queue made before it.
func (l *LeaseLocker) addListenerColumn() string {
	return "ALTER TABLE " + l.b.waiters + " ADD COLUMN IF NOT EXISTS listener text"
}

// EnsureSchema creates the tables and the sequence of Schema if they do not
// exist, and adds the listener column to a PostgreSQL queue that lacks it.
// Concurrent calls are safe: on PostgreSQL, whose CREATE ... IF NOT EXISTS
// fails when another session creates the same name at the same moment, they
// run one at a time, in a transaction that holds a transaction-level
// advisory lock on the lease table's name.
func (l *LeaseLocker) EnsureSchema(ctx context.Context) error {
	if l.b.d != sqldialect.Postgres {
		for _, stmt := range l.Schema() {
			if _, err := l.b.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sqllock: create lease schema: %w", err)
			}
		}
		return nil
	}
	tx, err := l.b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqllock: create lease schema: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey(l.b.table)); err != nil {
		return fmt.Errorf("sqllock: create lease schema: %w", err)
	}
	for _, stmt := range l.Schema() {
		if stmt == l.addListenerColumn() {
			var has bool
			err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attname = 'listener' AND NOT attisdropped)`, l.b.waiters).Scan(&has)
			if err != nil {
				return fmt.Errorf("sqllock: inspect lease schema: %w", err)
			}
			if has {
				continue
			}
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqllock: create lease schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqllock: create lease schema: %w", err)
	}
	return nil
}

// schemaLockKey is the pg_advisory_xact_lock key that serializes
// EnsureSchema on the (quoted) lease table: apart from the keys of
// AdvisoryLocker, which hash another prefix.
func schemaLockKey(table string) int64 {
	sum := sha256.Sum256([]byte("racefree-schema\x00" + table))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// leaseBackend implements lock.Backend on the lease table.
type leaseBackend struct {
	db         *sql.DB
	d          sqldialect.Dialect
	table, seq string // quoted
	waiters    string // quoted; PostgreSQL's queue of waiters
}

var _ lock.Backend = (*leaseBackend)(nil)

// leaseMinTTL is the shortest lease: below it a round trip eats the lease.
const leaseMinTTL = 100 * time.Millisecond

func (b *leaseBackend) Properties() lock.Properties {
	return lock.Properties{
		Name:         "sqllock-lease-" + dialectName(b.d),
		Fencing:      true,
		Linearizable: true, // one primary decides, in a transaction
		LeaseTTL:     true,
		MinTTL:       leaseMinTTL,
		MaxKeyLen:    512,
	}
}

// ValidateKey implements lock.KeyValidator: PostgreSQL text holds no NUL.
func (b *leaseBackend) ValidateKey(key string) error {
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w: key contains a NUL byte", lock.ErrInvalidKey)
	}
	return nil
}

// TryGrant on MariaDB; pgLeaseBackend has its own.
func (b *leaseBackend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	return b.myGrant(ctx, key, ttl)
}

// leaseGrant is one row of the lease table held with token.
type leaseGrant struct {
	b     *leaseBackend
	key   string
	token uint64

	mu     sync.Mutex
	expiry time.Time // send time of the grant or last refresh, plus its TTL
}

var _ lock.Expirer = (*leaseGrant)(nil)

func (b *leaseBackend) newGrant(key string, token uint64, sent time.Time, ttl time.Duration) *leaseGrant {
	return &leaseGrant{b: b, key: key, token: token, expiry: sent.Add(ttl)}
}

func (g *leaseGrant) Token() uint64 { return g.token }

// Expiry implements lock.Expirer: grants handed over after a wait expire
// a TTL after the statement that granted them, not after the wait began.
func (g *leaseGrant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expiry
}

func (g *leaseGrant) setExpiry(sent time.Time, ttl time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expiry = sent.Add(ttl)
}

func (g *leaseGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	sent := time.Now()
	refresh := g.myRefresh
	if g.b.d == sqldialect.Postgres {
		refresh = g.pgRefresh
	}
	if err := refresh(ctx, ttl); err != nil {
		return err
	}
	g.setExpiry(sent, ttl)
	return nil
}

func (g *leaseGrant) Release(ctx context.Context) error {
	if g.b.d == sqldialect.Postgres {
		return g.pgRelease(ctx)
	}
	return g.myRelease(ctx)
}

func (g *leaseGrant) notHeld() error {
	return fmt.Errorf("%w: token %d no longer holds %q", lock.ErrNotHeld, g.token, g.key)
}

// micros is ttl in whole microseconds, at least one.
func micros(ttl time.Duration) int64 { return max(ttl.Microseconds(), 1) }
