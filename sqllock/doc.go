// Package sqllock is pessimistic locking on PostgreSQL and MariaDB: row locks
// inside your transaction, and two lock.Lockers built on the database.
//
// One API serves both databases; a sqldialect.Dialect picks the SQL:
// sqldialect.Postgres for PostgreSQL through pgx (database/sql driver "pgx"),
// sqldialect.MySQL for MariaDB through github.com/go-sql-driver/mysql, or
// sqldialect.Of a *sql.DB. Of the MySQL family sqllock needs MariaDB 10.6 or
// later: MySQL 8 lacks sequences (the LeaseLocker's fencing tokens),
// LOCK IN SHARE MODE NOWAIT / SKIP LOCKED and the WAIT n clause.
//
// # Row locks
//
// RowLock runs your SELECT in your *sql.Tx with a locking clause: Exclusive
// (FOR UPDATE) or Shared (FOR SHARE; LOCK IN SHARE MODE on MariaDB), and a
// WaitPolicy: Wait, WaitAtMost(d), NoWait or SkipLocked. A lock that cannot
// be had in time is lock.ErrNotAcquired, a deadlock ErrDeadlock, a
// serialization failure ErrSerialization, each wrapping the driver's error
// (*pgconn.PgError, *mysql.MySQLError). LockIDs locks rows by key in one
// deterministic order, so that transfers between the same rows cannot
// deadlock. WithTx runs a transaction and runs it again after a deadlock or
// serialization failure, with jittered backoff and bounded attempts.
//
// # Lockers
//
// LeaseLocker keeps leases in a table: grant, refresh and release are single
// conditional statements judged by the database clock, tokens come from a
// sequence and fence, and it works behind any connection pooler. On
// PostgreSQL waiters queue in a second table, in ticket order: a grant goes
// only to the live head of the queue, a release notifies (LISTEN/NOTIFY)
// the head's ticket on the channel of the head's Locker, which its queue row
// names, so that one release wakes one waiter and reaches one client
// process; and waiters renew their place while they wait, so that one whose
// process died is passed over at its deadline (LeaseConfig.QueueTTL). On
// MariaDB waiters poll with jittered backoff.
//
// AdvisoryLocker holds a session advisory lock (pg_advisory_lock, GET_LOCK)
// on a connection of its own per lease: fast and table-free, but without
// fencing tokens, and not usable behind a transaction-mode pooler. A timer
// pings that connection (no goroutine per lease), and Release sends the
// unlock without waiting for anything. A lease that ends unreleased (its
// TTL ran out without auto-refresh, or after WithMaxHold) unlocks by itself
// at its expiry.
//
// # PostgreSQL and MariaDB differ
//
//   - After a failed statement PostgreSQL aborts the whole transaction.
//     RowLock hides this for NoWait and WaitAtMost by running the statement
//     under a savepoint (two extra round trips, four with WaitAtMost), so that ErrNotAcquired
//     leaves the transaction usable on both databases. Your own statements
//     get no such help.
//   - MariaDB rolls back the whole transaction of a deadlock victim; on
//     PostgreSQL the transaction is merely aborted. Either way: roll back
//     and retry (WithTx does). MariaDB detects deadlocks at once; PostgreSQL
//     after deadlock_timeout (1 s by default).
//   - WaitAtMost: PostgreSQL sets lock_timeout for the statement (to the
//     millisecond) and restores it; MariaDB uses FOR UPDATE WAIT n, which
//     counts whole seconds: d is rounded up (WAIT 0.5 would mean NOWAIT).
//     A lock wait timeout on MariaDB rolls back only the statement, unless
//     the server runs with innodb_rollback_on_timeout.
//   - Shared locks: FOR SHARE on PostgreSQL; MariaDB 10.11 has no FOR SHARE
//     and uses LOCK IN SHARE MODE, with NOWAIT / SKIP LOCKED / WAIT n
//     accepted after it (MySQL 8 rejects those: it is not supported).
//   - MariaDB takes next-key (gap) locks under REPEATABLE READ, its default:
//     a locking read can lock rows and gaps it did not return, and LockIDs
//     on a column without an index locks every row it scans. PostgreSQL
//     locks only the rows returned.
//   - Default isolation: READ COMMITTED on PostgreSQL, REPEATABLE READ on
//     MariaDB. Serialization failures (ErrSerialization) occur on PostgreSQL
//     under REPEATABLE READ and SERIALIZABLE; on MariaDB only with
//     innodb_snapshot_isolation (11.x), otherwise conflicts surface as lock
//     waits and deadlocks.
//   - LeaseLocker on PostgreSQL is FIFO (declared): waiters queue and are
//     woken by LISTEN/NOTIFY (one listening connection per Locker while it
//     has waiters, in session mode, opened outside the Locker's pool with
//     the settings of the pool's connections, so it counts against the
//     server's max_connections but not the pool's SetMaxOpenConns;
//     PollOnly turns it off, and the head then learns of a release at its
//     next poll), and neither TryAcquire
//     nor a releasing process's next Acquire can overtake the queue. On
//     MariaDB it polls and is not FIFO: a releasing process's next Acquire
//     often takes the key again before a waiter's poll. A queue would make
//     it fair but not fast there: without notifications the head can only
//     find the key free at its next poll, so each handoff would wait for
//     that poll (throughput bound by the poll rate, with a dead head
//     blocking the key for the queue TTL), and InnoDB's INSERT ... SELECT
//     under REPEATABLE READ takes shared next-key locks on the queue rows
//     it reads, which would make contenders wait on one another.
//   - AdvisoryLocker on PostgreSQL waits in pg_advisory_lock, which grants in
//     arrival order (declared FIFO); on MariaDB it retries GET_LOCK in steps
//     of at most one second (not FIFO), so a cancelled Acquire may leave a
//     server session waiting for up to a second. Advisory keys are hashed:
//     to a bigint on PostgreSQL, to a 57-character name on MariaDB (GET_LOCK
//     names are limited to 64 characters). PostgreSQL's advisory locks
//     belong to a database; MariaDB's lock names are global to the server,
//     so there a key is locked for all databases of the server (prefix keys
//     with the database or tenant where that matters).
//   - Lease expiry uses clock_timestamp() on PostgreSQL and UTC_TIMESTAMP(6)
//     on MariaDB (session time zones do not matter); tokens come from a
//     PostgreSQL sequence or a MariaDB SEQUENCE (10.3+; MySQL has none).
package sqllock
