// Package caslock is a lock.Locker on any cas.Store: the in-memory Store,
// DynamoDB (cas/dynamocas), MongoDB (cas/mongocas), SQL (cas/sqlcas). Grants
// are FIFO and fenced.
//
// # Lease item
//
// A lock on key is one item of the Store under prefix+key (a Store has no
// lists or scans, so everything lives in that one item). Its value records
// the holder: an owner token, random for every grant; the TTL the holder
// promised to refresh within; an epoch, which every write of the holder
// bumps; a life id, random for every creation of the item; and (for people
// reading the store) the wall clock time of the write. It also holds the queue of waiters, in arrival order, each with the
// TTL it asked for. The item's writes are all conditional on its version:
//
//   - Acquire creates the item if there is none (cas.Store.Create: one
//     winner); otherwise it appends itself to the queue and waits (below);
//   - Refresh is a CompareAndSwap that bumps the epoch: it succeeds only while
//     the item is still the holder's;
//   - Release hands the item to the queue's head (below), or deletes it if no
//     one is queued.
//
// Waiters write the item too, to join or leave the queue, which changes its
// version under the holder: a holder's write refused for its version reads
// the item again, and tries again at the new version with the queue as it
// now is, as long as the owner is still its own.
//
// # Hand-over
//
// Release does not free the key for whoever asks first: it writes the item
// as reserved for the queue's head, with the head's TTL, at the next epoch,
// and takes the head out of the queue. That write is the head's grant. The
// head polls the item (the Store cannot notify it), and finds itself the
// owner: its lease runs from the send time of its previous poll, the last
// one that did not find the item handed to it (the hand-over was written
// after that), and its first refresh clears the mark. A head whose previous
// poll may be too old (it polled slowly) claims the item with a write of its
// own instead, for a full lease from then. Nobody passes the queue:
// TryAcquire never takes a reserved item, nor one with waiters queued, and a
// holder that releases and asks again at once joins the queue's tail.
//
// # Fencing tokens
//
// Token is the item's version at the grant: the version Create, a claim or
// a take-over wrote, or, for a hand-over, the version the head read (the
// hand-over's, or a later one if waiters joined the queue in between).
// Refreshes bump the version but do not change the grant's Token. Tokens
// strictly increase across grants because Store versions never go backwards
// for a key, deletes included (tombstones): every grant's version comes after
// every write of the grants before it (their creates, refreshes, hand-overs)
// and before every write of the grants after it, which are made on the item
// as that grant found it. A token is therefore a fencing token
// (Properties.Fencing); package fence uses it to refuse late writes.
//
// # Expiry without trusting clocks
//
// Clients' clocks may disagree, so no one compares a wall-clock expiry
// written by another process. A waiter that finds the lock held remembers
// the item's life id, owner and epoch and the moment it saw them, on its own
// monotonic clock. Only when it sees the very same life, owner and epoch
// again after a full lease period (the TTL recorded in the item) may it take
// the lock over, with a CompareAndSwap on the version it has just read, so that
// a refresh or another take-over in the meantime makes it fail. Waiters'
// queue writes change the version but not the epoch, so they do not hide a
// dead holder. The life id makes the three unique per holder write: owner
// and epoch alone come again in a later life of the item (epochs restart
// when it is created again, and a reservation's owner is its waiter's id,
// the same for the whole wait), and a waiter that saw them in an earlier
// life would take the new holder's lease over at once. This is the scheme of the DynamoDB lock clients. It is safe
// when the holder's clock runs no slower than the waiter's (the lease's
// safety margin absorbs drift): the holder's epoch was written after the
// holder sent that write, and the waiter observed it after that, so a full
// lease period later on the waiter's clock the holder's own lease period,
// counted from the send, has run out too. Items written by caslock versions
// without a queue have no epoch: for them the version is watched, as those
// versions did.
//
// A take-over goes to the queue's head, as a release does: the waiter that
// observed the lease run out claims the item if it is the head, and hands it
// to the head otherwise (or claims it if no one is queued, as TryAcquire
// does then).
//
// The price: a lock whose holder died is taken over between one and two
// lease periods after the holder's last write (one period of observation,
// started when a waiter first looks). A holder whose lease runs out while
// its process lives (auto-refresh turned off, WithMaxHold, failing
// refreshes) hands its own item on (or deletes it) at the expiry,
// token-checked, so waiters then get the key at once.
//
// # Waiting
//
// Waiting is polling, since the Store has no notifications, and each poll
// is a Get; how often a waiter polls depends on its place in the queue. The
// head, and the waiter behind it (the head after the next hand-over), poll
// at a fifth of the Acquire call's backoff policy's first interval
// (lock.WithBackOff: 1 ms with lock.DefaultBackOff), so that a hand-over
// waits about that much for its poll (on Linux the waits under 2 ms are
// timed by the kernel's high-resolution timers, not Go's, which would make
// a 0.5 ms wait last a millisecond or more when the process is idle); while one holder keeps the item they
// slow down to an eighth of the time it has held it, up to the policy's
// current interval, so that a long hold is not polled every millisecond (a
// hand-over then waits up to an eighth of the hold). A waiter further back
// cannot be next before as many grants as there are waiters ahead of it: it
// polls after half that many grants, at the rate of grants it has seen, so
// that it gets near the head before the item is handed to it, and the
// waiters of a key make about 2·ln(n) polls per grant besides the first
// two's. The first two poll at least every eighth of their TTL: a
// hand-over is written with the TTL of the waiter it goes to (the head at a
// release, the second when the head leaves), and the waiter behind takes it
// over once it has seen it unchanged for that long, so a waiter must see it
// well within its TTL not to lose its turn (seen within a quarter of it,
// the hand-over is taken without a write of its own). That bound matters
// only for TTLs short next to the policy's intervals: under 6 s with
// lock.DefaultBackOff. Waiters further back are not held to it, so that a
// long queue does not read the item in proportion to its length; one of
// them that is handed the item because the two ahead left at once may lose
// its turn to the waiter behind it. A waiter's polls are sequential, so
// a slow Store is asked at most once at a time by each. A policy that
// stops (backoff.Stop) ends the wait with lock.ErrNotAcquired.
//
// A waiter whose context ends leaves the queue, and hands the item on if it
// was handed to it meanwhile, before Acquire returns; that cleanup has a
// timeout of its own (1 s). A waiter whose process died, or whose cleanup
// failed, keeps its place: once it reaches the head, the item is reserved
// for it, and the waiters behind it wait one lease period (its TTL) before
// the next one takes the item over from it. A waiter that failed to take a
// hand-over within its TTL (a long pause) finds itself out of the queue,
// and joins it again at the tail.
//
// The queue is part of the item, so every join and every leave rewrites
// the whole item (about 70 bytes per waiter), and holders' writes that meet
// a join are made twice: caslock suits locks with tens of waiters, not
// thousands (a Store caps values: DynamoDB at 400 KB). Grants are decided by
// the Store's conditional writes, so the Locker is exactly as safe as its
// Store: one that passes castest (on FerretDB v1 that means
// mongocas.WithVersionLog, whose updates are not atomic otherwise). Lockers
// of caslock versions without a queue may share keys with this one safely,
// but their grants are not FIFO: they take a free key without looking at
// the queue, and their writes drop it (its waiters then join again).
package caslock
