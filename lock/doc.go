// Package lock is racefree's portable lock API: the Locker and Lease contract,
// and all the policy every backend shares.
//
// A Locker grants leases on keys. A Lease carries a fencing token, a Done
// channel that closes a safety margin before the server may expire the grant,
// and Err, which says why it ended. Leases are renewed in the background until
// released (see WithoutAutoRefresh, WithMaxHold). Do runs a function under a
// lock with a context that is cancelled when the lease is lost.
//
// Adapters (redlock, etcdlock, zklock, sqllock, caslock) implement only the
// primitives of their store, Backend and Grant, plus the optional Waiter,
// Notifier, Expirer, LossReporter and KeyValidator; New turns a Backend into a
// Locker. NewMemory is the in-process backend: FIFO, fenced, no polling. Every
// Locker passes the conformance suite in package locktest.
//
// # Fencing
//
// A lease can end while its holder still runs (a GC pause, a frozen VM, a slow
// network). Check Err right before each write, and give the write the lease's
// Token so that the resource itself can refuse a token lower than one it has
// already seen: only that closes the gap between the check and the write.
package lock
