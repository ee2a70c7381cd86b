// Package redlock is racefree's Redis adapter: a lock.Locker over one Redis
// deployment (New) and Redlock over independent Redis nodes (NewQuorum), both
// on github.com/redis/go-redis/v9.
//
// # Single deployment
//
// A free key costs one round trip: one EVALSHA of take.lua runs SET {key}
// token NX PX ttl with a random 16-byte token (a queued waiter's token also
// starts with its Locker's 8-byte id, see below) and, if that took the key,
// INCR {key}:fence, whose value is the lease's fencing token. The counter
// never expires: a counter that expired would start again at 1 and issue
// tokens lower than ones in use (it costs one small key per distinct lock
// key; use maxmemory-policy noeviction, since an evicted lock or counter
// breaks the lock). Release and refresh are token-checked scripts; refresh
// never re-creates an expired key. Redis 7.0 or later is needed (SET with
// both NX and GET).
//
// Waiting is a server-side FIFO queue, as in Redisson's fair lock: the list
// {key}:q of waiters' owner tokens and the hash {key}:qd of their deadlines
// on the server's clock (TIME). An Acquire whose first attempt finds the key
// taken subscribes to releases and queues itself with acquire.lua, which
// also marks the holder's value as waited for ("token|w"). A release of an
// unmarked value just deletes the key; a marked one hands the lock over: the
// key is reserved for the queue's live head (it takes the head's token
// until the head's deadline) and the head's token is published on the
// channel of the head's Locker (each Locker subscribes once, on one shared
// PubSub connection, to a channel named after a random id that starts its
// waiters' tokens). So a release sends one message, to the one Locker whose
// waiter it wakes, however many Lockers wait for the key; that Locker wakes
// only the waiter holding the token, which turns the reservation into its
// grant: one release costs one message and one grant attempt across all
// processes (no herd). Since a waited-for key is never free, a newcomer's take.lua —
// TryAcquire's or the releaser's own next Acquire — cannot barge in.
// Properties.FIFO is true: waiters are granted in the order they queued.
// The one exception follows a crash: a key that expires (its holder died,
// or the head it was reserved for died) is free until the next waiter's
// poll hands it to the queue's head, and a newcomer's take.lua may take it
// in between.
//
// Crashes are bounded by deadlines. A waiter renews its deadline (3 ×
// WithQueuePoll) with every attempt, and polls at least every WithQueuePoll
// as a safety net against lost messages; a cancelled Acquire leaves the queue
// at once (leave.lua, which also deletes a grant or reservation it may hold
// without knowing, and hands the lock on). A waiter that dies keeps its
// place until its deadline; the scripts drop heads whose deadline passed,
// and a reservation for a dead head ends at its deadline, so a dead waiter
// stalls the queue by at most its deadline plus one poll. A holder that dies
// is noticed by the head's poll once its key has expired. A paused waiter
// that misses its deadline may lose its place: it queues again at the back.
// The queue keys expire with their last deadline.
//
// All names of one lock — {key}, {key}:fence, {key}:q, {key}:qd — carry the
// key as a Cluster hash tag, so they share a slot and one script can touch
// them all on a Redis Cluster; keys beginning with "}" are refused, since
// their tag would be empty. Renewal, Done, Err, Do and validation are
// package lock's.
//
// Wake-ups travel on the channels racefree:redlock:wake:<Locker id>, which
// are not keys: a Redis user limited by ACLs needs the channel pattern
// &racefree:redlock:wake:* as well as its keys, or the scripts that publish
// fail after they wrote. Lockers of releases before the channel per Locker
// (which published on {key}:released) do not hear these wake-ups, nor these
// theirs: mixing the two on one key stays safe, but each hand-over between
// them waits for the waiter's poll (WithQueuePoll).
//
// What it guarantees: mutual exclusion and strictly increasing tokens as long
// as the Redis primary keeps its data. What it does not: replication is
// asynchronous, so a primary that fails over (Sentinel, Cluster) before its
// replica received the SET lets the new primary grant the key again, and its
// counter may be behind; Properties.SurvivesFailover is false.
//
// # Redlock
//
// NewQuorum runs over N independent nodes, each call bounded by a node
// timeout far below the TTL. The lock is held when a majority granted it
// within the validity time TTL − elapsed − drift (drift = 0.01 × TTL + 2 ms
// by default); the lease's deadline counts from the moment the request was
// sent, less that drift. An attempt asks a majority of the nodes first —
// the same ones for a key in every process, chosen by a hash of the key, so
// different keys spread over the nodes — and the others as soon as one of
// those refuses or fails, or after a hedge delay of a quarter of the node
// timeout; any two majorities share a node, so this is as safe as asking
// all N, and on healthy nodes it spares the rest the work (a waiter that
// queued asks all nodes at once). Acquire returns at the first majority that
// agrees and does not wait for the slowest nodes. Each node's calls are
// chained after that node's own reply to the acquire: the release (or the
// undo of a refused attempt) goes to a node only once it answered, so a late
// SET does not land after its release and leave a stale key; and a Locker's
// next attempt on a key goes to a node only after that node answered the
// Locker's last release of it, so a release that returned at a majority
// cannot refuse the next grant of its own Locker. (A call that timed out, or
// that go-redis sent again after a lost answer, may still reach its node
// later; the TTL bounds what it leaves, and an attempt sent again is granted
// its own key rather than refused.) Refresh needs a majority too and returns
// at the first one; when a grant that asked only a majority has lost one of
// those nodes, Refresh takes the key under the same token on the nodes the
// grant did not ask (adopt.lua: only where it is free), so a held lease
// survives a minority of nodes failing as a grant does. Release goes to every
// node the grant holds or may hold and returns once a majority confirmed
// it; the slower nodes' answers are awaited in the background, and Close
// waits for them.
//
// The node timeout bounds a call only if go-redis honours the context's
// deadline while it reads: set redis.Options.ContextTimeoutEnabled on the
// nodes' clients. Without it, a node that accepts a request and never
// answers holds that call for its client's ReadTimeout, once per retry
// (MaxRetries); hedging (above) keeps such a node from delaying grants,
// but Refresh, Release and Close wait for it.
//
// Waiting: without order, contenders racing for N nodes split the votes
// (each wins some nodes, nobody a majority) and all back off; and a release
// heard by every waiter sets them all racing again. So each node keeps a
// waiter queue like a single deployment's, but ordered by ticket rather than
// by arrival: a waiter takes a ticket (its process's clock, in µs, at its
// first attempt) and a random id, and a refused attempt queues the id with
// the ticket as score in the sorted set {key}:wq on every node it reached
// (deadlines in {key}:wqd, renewed with every attempt; WithQueuePoll as for
// a single deployment). Every node orders the same waiters the same way, so
// the lowest live ticket is the head on every node that knows it, and a
// node grants the key only to its head (or to anyone when nobody waits,
// which keeps an uncontended Acquire at one round trip per node). A refused
// attempt of the head takes back what it won but keeps its place, so the
// split vote resolves in the head's favour at the next release instead of
// repeating. Release takes the holder out of the queues, and the key's
// preferred majority of nodes publish the new head's id on its Locker's
// channel (the other nodes stay quiet: the head's Locker would hear each
// node's message); one waiter in all processes wakes and attempts, so a
// hand-off costs one attempt, not one per waiter, and a
// releaser that comes back queues behind the others (no barging).
// TryAcquire is refused while anyone waits. The order is the tickets', so it
// is FIFO only as far as the processes' clocks agree (a clock running behind
// moves its process's waiters forward by that much), and a node that missed
// a waiter's attempts (down, or timed out) may grant a later ticket first;
// Properties.FIFO is false. A waiter that dies keeps the queue waiting until
// its deadline; a cancelled one leaves at once. Measured with locktest's
// benchmark over 5 nodes, busiest/fair went from 1.4–3.5 to 1.00 and the
// hand-off p99 from 6–64 ms to 2–4 ms at N = 8 and 32 on a loaded 2-core
// host.
//
// The fencing token is the maximum of the granting nodes' counters, and it
// is handed out only once a majority of nodes hold a counter at least that
// high. Usually the granting nodes' INCRs already did it: when a majority of
// nodes returned the maximum itself, their counters equal the token and
// nothing more is sent (two fan-outs per Acquire+Release, as plain Redlock).
// Otherwise the token is written back (fence.lua, which only ever raises a
// counter) to the nodes below it until a majority holds it. Without that,
// two majorities that overlap in one node whose counter lags could issue a
// lower token after a higher one. Either way, any later majority contains a
// node whose counter is at least the previous token, and its INCR returns
// more, so tokens strictly increase — under FencingAssumption: no node loses
// acknowledged writes. A node that restarts without its data (no fsync'ed
// AOF), fails over to a lagging replica or evicts keys breaks both the lock
// and the tokens: enough such nodes can form a second majority for a key
// that is still held, and their fresh counters give it a token no greater
// than the one in use. A resource that refuses lower tokens then refuses the
// second holder, which is the point of fencing, but if the restarted counters
// have caught up to exactly the token in use, two holders carry equal tokens
// and fencing cannot tell them apart.
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
