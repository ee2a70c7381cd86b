// Package redlock is racefree's Redis adapter: a lock.Locker over one Redis
// deployment (New) and Redlock over independent Redis nodes (NewQuorum), both
// on github.com/redis/go-redis/v9.
//
// # Single deployment
//
// A grant is one EVALSHA of acquire.lua: SET {key} token NX PX ttl with a
// random 16-byte token and, in the same atomic script, INCR {key}:fence, whose
// value is the lease's fencing token. Both names carry the key as a Cluster
// hash tag, so they share a slot. The counter never expires: a counter that
// expired would start again at 1 and issue tokens lower than ones in use (it
// costs one small key per distinct lock key; use maxmemory-policy noeviction,
// since an evicted lock or counter breaks the lock). Release and refresh are
// token-checked scripts; refresh never re-creates an expired key, and release
// publishes on {key}:released. Waiters of a Locker share one PubSub
// connection; each release message wakes one local waiter, and a jittered
// backoff poll from package lock covers lost messages and expiries. Renewal,
// Done, Err, Do and validation are package lock's.
//
// What it guarantees: mutual exclusion and strictly increasing tokens as long
// as the Redis primary keeps its data. What it does not: replication is
// asynchronous, so a primary that fails over (Sentinel, Cluster) before its
// replica received the SET lets the new primary grant the key again, and its
// counter may be behind; Properties.SurvivesFailover is false.
//
// # Redlock
//
// NewQuorum asks N independent nodes at once, each bounded by a node timeout
// far below the TTL. The lock is held when a majority granted it within the
// validity time TTL − elapsed − drift (drift = 0.01 × TTL + 2 ms by default);
// the lease's deadline counts from the moment the request was sent, less that
// drift. Otherwise every node is released at once. Refresh needs a majority
// too; release goes to all.
//
// The fencing token is the maximum of the granting majority's counters,
// written back to a majority (fence.lua) before the lease is returned. Without
// that write-back two majorities that overlap in one node whose counter lags
// could issue a lower token after a higher one. With it, any later majority
// contains a node that saw the previous token, so tokens strictly increase —
// under FencingAssumption: no node loses acknowledged writes. A node that
// restarts without its data (no fsync'ed AOF), fails over to a lagging replica
// or evicts keys breaks both the lock and the tokens: enough such nodes can
// form a second majority for a key that is still held, and their fresh
// counters give it a token no greater than the one in use. A resource that
// refuses lower tokens then refuses the second holder, which is the point of
// fencing, but if the restarted counters have caught up to exactly the token
// in use, two holders carry equal tokens and fencing cannot tell them apart.
//
// # What Redlock does not promise
//
// Redlock's safety rests on timing: it assumes that processes pause, networks
// delay and clocks drift by bounded amounts small next to the TTL. Martin
// Kleppmann's critique ("How to do distributed locking", 2016) is that none of
// these bounds hold in practice: a holder can be paused (GC, swapping, a
// frozen VM) after it checked its lease and before it writes, and resume after
// the lease expired and someone else was granted the lock; a node's clock can
// jump (an operator, NTP stepping) and expire a key early, letting a second
// majority form. A lock built only on time cannot prevent such a stale write;
// only the resource can, by checking a fencing token — which a lock must be
// able to issue, and which plain Redlock did not. Salvatore Sanfilippo's
// (antirez) reply is that Redlock measures elapsed time on monotonic clocks
// rather than comparing wall clocks, that clock jumps can be avoided by
// operating the servers carefully, and that a pause after the check is a
// problem for every lock with expiry, consensus-based or not.
//
// Both are right about part of it. This package takes these positions: the
// lease's Err compares the deadline with the clock at the moment of the call
// and Done closes a safety margin early, which narrows but cannot close the
// pause window; the fencing token closes it at a resource that checks it, but
// Redlock's token is only as good as FencingAssumption. Where correctness (not
// only efficiency: avoiding duplicate work) depends on the lock, use a
// linearizable store (etcdlock, zklock, sqllock) or a single Redis with
// fencing checked at the resource, and treat Redlock as an availability
// optimisation: it keeps granting while a minority of nodes is down.
package redlock
