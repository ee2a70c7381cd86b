// Package caslock is a lock.Locker on any cas.Store: the in-memory Store,
// DynamoDB (cas/dynamocas), MongoDB (cas/mongocas), SQL (cas/sqlcas).
//
// # Lease item
//
// A lock on key is one item of the Store under prefix+key whose value records
// the holder: a random owner token, new for every grant, the TTL the holder
// promised to refresh within, and (for people reading the store) the wall
// clock time of the write. Whoever writes the item owns the lock:
//
//   - Acquire creates the item (cas.Store.Create: one winner), or takes over
//     an expired one (below);
//   - Refresh is a CompareAndSwap from the version the holder last wrote: it
//     succeeds only while no one has taken the lock over, and bumps the
//     version, which is how waiters see that the holder is alive;
//   - Release is a CompareAndDelete at that version: it can only ever delete
//     the holder's own grant.
//
// # Fencing tokens
//
// Token is the item's version at the grant: the version Create or the
// take-over wrote. Refreshes bump the version but do not change the grant's
// Token. Tokens strictly increase across grants because Store versions never
// go backwards for a key, deletes included (tombstones): every grant is a
// write that comes after every write of the grants before it (their creates,
// refreshes and take-overs), so its version, and hence its token, is greater
// than any token issued before. A token is therefore a fencing token
// (Properties.Fencing); package fence uses it to refuse late writes.
//
// # Expiry without trusting clocks
//
// Clients' clocks may disagree, so no one compares a wall-clock expiry
// written by another process. A waiter that finds the lock held remembers the
// item's version and the moment it saw it, on its own monotonic clock. Only
// when it sees the very same version again after a full lease period (the
// TTL recorded in the item) may it take the lock over, with a CompareAndSwap
// on that version, so that a refresh or another waiter's take-over in the
// meantime makes it fail. This is the scheme of the DynamoDB lock clients.
// It is safe when the holder's clock runs no slower than the waiter's (the
// lease's safety margin absorbs drift): the holder's version was written
// after the holder sent that write, and the waiter observed it after that,
// so a full lease period later on the waiter's clock the holder's own lease
// period, counted from the send, has run out too.
//
// The price: a lock whose holder died is taken over between one and two
// lease periods after the holder's last write (one period of observation,
// started when a waiter first looks). A holder whose lease runs out while its
// process lives (auto-refresh turned off, WithMaxHold, failing refreshes)
// deletes its own item at the expiry, token-checked, so waiters then get the
// key at once.
//
// Waiting is polling with lock's backoff (the Store has no notifications),
// so grants are neither FIFO nor fair: a holder that releases and asks again
// at once usually wins over waiters asleep in their backoff, and a hand-off
// waits for the next poll (5 ms to 500 ms by default; tune it with
// lock.WithBackOff). Prefer a notifying backend for hot, contended keys. Grants are decided by the Store's conditional writes,
// so the Locker is exactly as safe as its Store: one that passes castest
// (on FerretDB v1 that means mongocas.WithVersionLog, whose updates are not
// atomic otherwise).
package caslock
