package sqllock

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/sqldialect"
)

// DefaultLeaseTable is the lease table of a LeaseLocker whose LeaseConfig
// names none. Its sequence is the table's name followed by "_token".
const DefaultLeaseTable = "racefree_locks"

// LeaseConfig tunes a LeaseLocker. The zero value is ready to use.
type LeaseConfig struct {
	// Table is the lease table, a plain identifier, optionally
	// schema-qualified; default DefaultLeaseTable.
	Table string

	// PollOnly turns off LISTEN/NOTIFY on PostgreSQL: waiters then poll with
	// jittered backoff as on MariaDB. Set it when no session-mode connection
	// is available for listening (e.g. only PgBouncer in transaction mode).
	PollOnly bool
}

// LeaseLocker is a lock.Locker on a table of leases: one row per key with
// the holder's fencing token and an expiry. Granting, refreshing and
// releasing are each a single conditional statement, expiry is judged by the
// database's clock alone, and tokens come from a database sequence, so it
// works through any connection pooler (PgBouncer in transaction mode too,
// with PollOnly) and from any number of processes.
//
// Create the table with EnsureSchema, or put the statements of Schema in a
// migration. Rows are never deleted: a released or expired lease stays as a
// row that the next grant takes over, which is what keeps tokens increasing
// per key. Expect one small row per distinct key.
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
	b := &leaseBackend{db: db, d: d, table: quote(d, table), seq: quote(d, table+"_token")}
	if d == sqldialect.Postgres && !cfg.PollOnly {
		b.listener = newListener(db, table)
	}
	return &LeaseLocker{Client: lock.New(b, defaults...), b: b}, nil
}

// Schema returns the statements that create the lease table and its
// sequence, for a migration. EnsureSchema runs them.
func (l *LeaseLocker) Schema() []string {
	if l.b.d == sqldialect.Postgres {
		return []string{
			"CREATE SEQUENCE IF NOT EXISTS " + l.b.seq,
			"CREATE TABLE IF NOT EXISTS " + l.b.table + ` (
	lock_key   text COLLATE "C" PRIMARY KEY,
	token      bigint NOT NULL,
	expires_at timestamptz NOT NULL
)`,
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

// EnsureSchema creates the lease table and its sequence if they do not exist.
func (l *LeaseLocker) EnsureSchema(ctx context.Context) error {
	for _, stmt := range l.Schema() {
		if _, err := l.b.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqllock: create lease schema: %w", err)
		}
	}
	return nil
}

// leaseBackend implements lock.Backend on the lease table.
type leaseBackend struct {
	db         *sql.DB
	d          sqldialect.Dialect
	table, seq string    // quoted
	listener   *listener // PostgreSQL LISTEN/NOTIFY; nil when polling
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

func (b *leaseBackend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	if b.d == sqldialect.Postgres {
		return b.pgGrant(ctx, key, ttl)
	}
	return b.myGrant(ctx, key, ttl)
}

// Subscribe implements lock.Notifier on PostgreSQL (see listener).
func (b *leaseBackend) Subscribe(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if b.listener == nil {
		// Polling only: a channel that never fires leaves it to the backoff.
		return nil, func() {}, nil
	}
	return b.listener.subscribe(ctx, key)
}

// leaseGrant is one row of the lease table held with token.
type leaseGrant struct {
	b     *leaseBackend
	key   string
	token uint64
}

func (g *leaseGrant) Token() uint64 { return g.token }

func (g *leaseGrant) Refresh(ctx context.Context, ttl time.Duration) error {
	if g.b.d == sqldialect.Postgres {
		return g.pgRefresh(ctx, ttl)
	}
	return g.myRefresh(ctx, ttl)
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
