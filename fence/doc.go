// Package fence guards resources with fencing tokens, so that a lock holder
// whose lease ended while it was paused (GC, SIGSTOP, a frozen VM, a slow
// network) cannot overwrite the work of the holder that came after it.
//
// A lock.Lease carries a Token that grows with every grant of its key. A
// guard makes a write succeed only if its token is at least the highest token
// the resource has seen, and records it as the new highest in the same atomic
// step. A late write with an older token is refused with an error wrapping
// ErrStaleToken (a *StaleError that says which fence it met), and the newer
// holder's data survives. Checking lease.Err() before writing narrows the gap;
// only the guard closes it.
//
// Every guard has the same shape, whatever its store: it is a value naming
// where the fence lives, its write method takes ctx, the store handle, the
// resource and the lease's token (a uint64), and a refusal is ErrStaleToken,
// a missing resource ErrNotFound. This package has two guards for SQL
// databases, PostgreSQL and MySQL/MariaDB, named by their sqldialect.Dialect
// field (sqldialect.Postgres or sqldialect.MySQL):
//
//   - Row, when the resource is one row of your table with a fence column:
//     its Update runs UPDATE t SET ..., fence = token WHERE id = ? AND
//     fence <= token, the write and the check in one statement.
//   - Table, when the resource is anything else (several rows or tables):
//     its Admit, run first inside the transaction that writes the resource,
//     records the token in a fence table and holds that resource's fence row
//     lock until the transaction ends, so a holder with an older token
//     waits, then is refused.
//
// Tokens are stored in signed 64-bit columns: a token above math.MaxInt64 is
// refused with ErrTokenRange. Fences only grow: never lower a fence column by
// hand.
package fence
