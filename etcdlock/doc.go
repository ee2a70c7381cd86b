// Package etcdlock is racefree's lock.Locker on etcd (go.etcd.io/etcd/client/v3).
//
// # How a lock works
//
// A Locker holds one etcd lease per TTL, its session: granted lazily on first
// use, kept alive in the background, shared by every lock of that Locker with
// that TTL, and granted anew for later acquisitions when it dies. A lock on key
// is a key <prefix>/<escaped key>/<lease id hex>-<n> attached to the session
// lease, where n is the session's lowest number not in use on that lock: a
// name is used again once its key is deleted, so a lock taken again and again
// adds no key to etcd's index, which keeps every key ever created until the
// history is compacted and which every read of a queue walks. Holders and
// waiters queue by create revision: the oldest key holds the lock, and each
// waiter watches only the deletion of the key just before its own, from the
// current revision, so a release wakes exactly one waiter at once (no herd,
// and none of the 100 ms catch-up of watches that start at an old
// revision). Even such a watch can start out behind when etcd registers
// it while applying a write (it reads the revision first), so each new watch
// is probed: a put on the predecessor that keeps its value, lease and create
// revision (only its mod revision and version change). A watch that does not
// deliver the probe within milliseconds is replaced. TryAcquire creates its
// key only if no key of the lock exists, in one transaction. The fencing token
// is the key's create revision.
//
// When its predecessor goes, a waiter reads the queue again, in one
// transaction that also checks that its own key still exists (its lease did
// not die while it waited, etcd#11456), and watches the new predecessor
// unless none is left. A waiter that queued right behind the holder (no
// other key older than its own) needs no read: no older key can be created
// later, so the holder's deletion makes it the holder. Its watch covers the
// key range from the holder's key to its own, so that the deletion of its
// own key, should it come first, shows on the same watch, and it gives up
// rather than take the lock (with a lone waiter, a handoff took 195 µs
// instead of 358 µs at the median on loopback). A probe or a queue read that
// fails with an error that passes by itself (no leader, a leader change, a
// timeout, the connection down for now) is made again after a pause, paced
// by the Acquire call's backoff policy (lock.WithBackOff); the key keeps its
// place, and a policy that stops ends the wait with the error. A waiter's
// watch requires a leader (clientv3.WithRequireLeader): a member cut off from
// the others ends it rather than keep it open with no sight of the deletions
// the others commit, and the waiter reads the queue and, if nothing changed,
// watches again after the same pause, maybe through another member. A
// failure after a watch that had worked (it delivered its probe) counts as a
// first failure for the policy, not one more in a row. A waiter whose
// session dies gives up with an error wrapping lock.ErrLost (etcd#19597); a
// waiter cancelled mid-wait deletes its key.
//
// # TTL
//
// etcd leases live as long as their keep-alives, and a Locker's locks share
// their session lease, so the TTL option does not bound one lock: it picks the
// session (one etcd lease per distinct TTL, rounded up to whole seconds, at
// least MinTTL). It is how long a lock outlives a holder that stops keeping its
// session alive (a crash, a partition), and the time from the last successful
// keep-alive to the lease's expiry, which the lease's Done anticipates by the
// safety margin. Properties therefore declares LeaseTTL false: a holder that
// stops refreshing one lock (lock.WithoutAutoRefresh) sees its lease end
// locally at the deadline, but the key stays on the server until Release or
// until the session ends. Refresh accepts a TTL up to the session's, renews the
// session lease and checks that the key is still this grant's.
//
// # Loss
//
// The session is kept alive every KeepAliveInterval or every third of its
// TTL, whichever is shorter. A lease revoked or expired on the server is seen at the
// next keep-alive (Properties.LossDetection) and ends every lease of that
// session with lock.ErrLost; a server that cannot be reached makes the leases
// end by their deadline, a safety margin before the server may expire them.
package etcdlock
