// Package sqlcas is a cas.Store on a versioned key/value table in PostgreSQL
// or MySQL/MariaDB, through database/sql (drivers "pgx" of
// github.com/jackc/pgx/v5/stdlib and "mysql" of github.com/go-sql-driver/mysql).
// New takes the pool's sqldialect.Dialect: sqldialect.Postgres or
// sqldialect.MySQL (MySQL 5.7 or later, MariaDB 10.3 or later).
//
// # Table
//
// One row per key; a deleted key keeps its row as a tombstone (deleted true,
// version kept), so versions never go backwards and a version read before a
// delete never matches again (no ABA). Never delete rows of this table by
// hand: a key whose tombstone is gone starts again at version 1. Schema
// returns the CREATE TABLE statement for a migration; EnsureSchema runs it.
//
//	PostgreSQL                                 MySQL / MariaDB (InnoDB)
//	item_key   bytea   PRIMARY KEY             VARBINARY(512) PRIMARY KEY
//	item_value bytea   NOT NULL                LONGBLOB NOT NULL
//	version    bigint  NOT NULL                BIGINT NOT NULL
//	deleted    boolean NOT NULL DEFAULT false  BOOLEAN NOT NULL DEFAULT FALSE
//
// Keys are stored as bytes, so they compare byte for byte whatever the
// database's collation: "a", "A" and "a " are three keys.
//
// # One statement per operation
//
// PostgreSQL: Create is one INSERT ... ON CONFLICT DO UPDATE ... WHERE deleted
// RETURNING version. CompareAndSwap and CompareAndDelete are one statement: a
// conditional UPDATE ... WHERE version = $2 AND NOT deleted RETURNING version
// in a CTE, next to a read of the row in the same statement snapshot, so a
// refused write says at once whether the key was missing (ErrNotFound) or at
// another version (ErrConflict).
//
// MySQL/MariaDB have no UPDATE ... RETURNING (MariaDB only on INSERT and
// DELETE). CompareAndSwap and CompareAndDelete are one conditional UPDATE
// whose affected-row count says whether it wrote (the new version is then
// known: the old one plus one). Only when it wrote nothing, one
// SELECT version, deleted of the row follows. That read is not racy: the
// refused UPDATE changed nothing, so the operation takes effect at the read,
// and the answer is the read's state (tombstone or no row: ErrNotFound;
// another version: ErrConflict). Versions only grow, so the one state the read
// could show that does not explain the refusal, the key live at the very
// version asked for, means a write committed between the two statements (a
// Create); the operation then runs again. This costs one round trip on
// success and two on refusal, where a transaction with SELECT ... FOR UPDATE
// would cost four (BEGIN, SELECT, UPDATE, COMMIT) every time. Create is
// INSERT (version 1), and when the key's row exists, UPDATE ... SET version =
// LAST_INSERT_ID(version + 1) ... WHERE deleted, which revives a tombstone and
// reports its new version through the OK packet; no row revived means the key
// is live (ErrExists). All statements are judged by the rows they changed, and
// each of them changes the version or the deleted flag of the row it matches,
// so the DSN option clientFoundRows does not change the outcome.
//
// PostgreSQL re-runs in the mirror case: when the statement's snapshot shows
// the key live at the version asked for but the UPDATE, which waits for and
// re-reads a row changed concurrently, found it moved or deleted.
//
// # Differences users must know
//
//   - MySQL/MariaDB make two round trips for a refused CompareAndSwap or
//     CompareAndDelete and for a Create of a key that has a row; PostgreSQL
//     always one.
//   - A cancelled context ends a statement in flight by closing its
//     connection (MySQL) or cancelling it on the server (PostgreSQL); a write
//     whose context ends while in flight may or may not have happened.
//   - MySQL/MariaDB: values up to the server's max_allowed_packet (16 MiB by
//     default on MariaDB 10.11, 64 MiB on MySQL 8); WithMaxValueSize must stay
//     below it. The key column is VARBINARY(512), so keys are at most 512
//     bytes on both databases.
//   - Versions are stored as signed 64-bit integers: a version above
//     math.MaxInt64 is never current, and asking for it is ErrConflict (or
//     ErrNotFound).
package sqlcas
