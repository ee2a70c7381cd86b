package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/racefree/racefree/lock"
)

// queueEntry is a key in a lock's queue as a waiter sees it.
type queueEntry struct {
	s   *session
	lk  lockKey // this waiter's key, under its lock's queue prefix
	rev int64   // its create revision
}

// enqueueAndWait creates key lk with the session lease and waits until it is
// the oldest key of its queue prefix. In one transaction it creates the key and,
// unless the queue was empty, reads the two keys just before it.
func (b *backend) enqueueAndWait(ctx context.Context, s *session, lk lockKey) (lock.Grant, error) {
	pfx, mine := lk.pfx, lk.name
	put := clientv3.OpPut(mine, "", clientv3.WithLease(s.id))
	lastThree := clientv3.OpGet(pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(3))
	resp, err := b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(pfx), "=", 0).WithPrefix()).
		Then(put).
		Else(put, lastThree).
		Commit()
	if err != nil {
		return nil, createErr(s, err)
	}
	q := queueEntry{s: s, lk: lk, rev: resp.Header.Revision}
	if resp.Succeeded {
		return q.grant(b), nil
	}
	kvs := resp.Responses[1].GetResponseRange().GetKvs()
	if len(kvs) < 2 || string(kvs[0].Key) != mine {
		return nil, fmt.Errorf("etcd queue of %q changed inside a transaction: read %d keys", pfx, len(kvs))
	}
	return b.wait(ctx, q, predecessor{key: string(kvs[1].Key), createRev: kvs[1].CreateRevision, alone: len(kvs) == 2})
}

func (q queueEntry) grant(b *backend) *grant {
	return &grant{b: b, s: q.s, lk: q.lk, rev: q.rev}
}

// headGrant is q's grant once q's key is known to be the oldest of its
// queue without a read, unless q's session is lost or ctx is done (the read
// would have failed then too).
func (q queueEntry) headGrant(ctx context.Context, b *backend) (*grant, error) {
	if err := q.sessionLost(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.grant(b), nil
}

// sessionLost is the error of a waiter whose session is lost, or nil.
func (q queueEntry) sessionLost() error {
	if err := q.s.err(); err != nil {
		return fmt.Errorf("%w: %w", lock.ErrLost, err)
	}
	return nil
}

// predecessor is the key just before a waiter's in its lock's queue.
type predecessor struct {
	key       string
	createRev int64
	// alone: when it was read, no other key was older than the waiter's.
	// No key older than the waiter's can be created later, so once a key of
	// this name is deleted, the waiter's key is the oldest: it holds the
	// lock without reading the queue again.
	alone bool
}

// firstProbeWait is how long a new watch has to deliver the probe before it
// is taken for one that lags behind; it doubles with every watch that did
// not, up to maxProbeWait.
const (
	firstProbeWait = 2 * time.Millisecond
	maxProbeWait   = 128 * time.Millisecond
)

// wait watches the predecessor of q until q's key is the oldest. A probe or
// a queue read that fails for a while (a leader election, a timeout) is
// made again, on a new watch of the same predecessor, rather than ending
// the wait: the key keeps its place in the queue. The pauses between such
// attempts follow the Acquire call's backoff policy (lock.WithBackOff), and
// a policy that stops ends the wait with the error.
func (b *backend) wait(ctx context.Context, q queueEntry, pred predecessor) (lock.Grant, error) {
	probeWait := firstProbeWait
	var retry backoff.BackOff // the call's policy, from the first transient error on
	for {
		var worked bool // the watch delivered its probe
		next, g, err := b.watchPredecessor(ctx, q, pred, probeWait, &worked)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && transient(err) {
			switch {
			case retry == nil:
				retry = lock.BackOffOrDefault(ctx)
			case worked:
				// The watch worked before this failure (its end, or a
				// read after it): a first failure, not one more in a row.
				retry.Reset()
			}
			if next.key != "" {
				pred = next // the same key, as last read
			}
			d := retry.NextBackOff()
			if d == backoff.Stop {
				return nil, err
			}
			if werr := q.pause(ctx, d); werr != nil {
				return nil, werr
			}
			continue
		}
		if err != nil || g != nil {
			return g, err
		}
		if retry != nil {
			retry.Reset()
		}
		if next.key == pred.key {
			probeWait = min(2*probeWait, maxProbeWait)
		}
		pred = next
	}
}

// errWatchEnded is wrapped in the error of a watch that ended before the
// predecessor's deletion: the member lost its leader, say. It passes by
// itself.
var errWatchEnded = errors.New("etcdlock: the watch of the predecessor ended")

// watchEnded is the error of a watch that ended with resp (ok: it was
// received, not the channel's close).
func watchEnded(resp clientv3.WatchResponse, ok bool) error {
	if err := resp.Err(); ok && err != nil {
		return fmt.Errorf("%w: %w", errWatchEnded, err)
	}
	return errWatchEnded
}

// transient reports whether err may pass by itself: the member has no
// leader or lost it, the request timed out, the connection is down for now,
// or a watch ended.
func transient(err error) bool {
	if errors.Is(err, lock.ErrLost) {
		return false
	}
	for _, e := range []error{errWatchEnded, rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost} {
		if errors.Is(err, e) {
			return true
		}
	}
	return status.Code(err) == codes.Unavailable
}

// pause waits for d, or until ctx is done or q's session is lost.
func (q queueEntry) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.s.lost:
		return fmt.Errorf("%w: while waiting: %w", lock.ErrLost, q.s.err())
	case <-t.C:
		return nil
	}
}

// watchPredecessor waits for pred's deletion, then re-checks the queue. It
// returns the grant, or the predecessor to watch anew.
//
// A watch that etcd registers while a write is being applied starts out
// "unsynced": the server catches it up only every 100 ms, and a deletion in
// between reaches it that late. So once the watch is created, a probe touches
// pred (a put that keeps its value, lease and create revision); a watch that
// does not deliver the probe within probeWait is replaced. The probe also
// proves that pred still existed at a revision the watch delivers (the
// probe's own), so no deletion of pred can fall between the read that found
// it and the watch. A watch that starts at a member behind that read may
// first replay older events, the deletion of an earlier key of pred's name
// among them: deletedKey tells those apart by revision. (Even a watch whose
// creation follows that read with no write in between can start out
// unsynced: the server reads the revision, then registers the watch after
// a write that was being applied. Measured: skipping the probe then brings
// the 100 ms tail back.)
//
// worked is set once the watch has delivered its probe.
func (b *backend) watchPredecessor(ctx context.Context, q queueEntry, pred predecessor, probeWait time.Duration, worked *bool) (predecessor, *grant, error) {
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := b.watch(watchCtx, q, pred)
	var (
		probeRev int64            // revision of the probe, once sent
		lagging  <-chan time.Time // fires when the probe is late
	)
	probeTimer := time.NewTimer(time.Hour)
	defer probeTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			return predecessor{}, nil, ctx.Err()
		case <-q.s.lost:
			return predecessor{}, nil, fmt.Errorf("%w: while waiting: %w", lock.ErrLost, q.s.err())
		case <-lagging:
			return pred, nil, nil
		case resp, ok := <-events:
			live := ok && resp.Err() == nil
			switch {
			case live && resp.Created:
				rev, err := b.probe(ctx, q, pred)
				if err != nil {
					return predecessor{}, nil, err
				}
				if rev == 0 { // pred or q's key is gone
					return b.recheck(ctx, q, 0)
				}
				probeRev = rev
				probeTimer.Reset(probeWait)
				lagging = probeTimer.C
			case live && deletedKey(resp, q.lk.name, q.rev):
				// Only a watch of a lone predecessor covers q's own key.
				return predecessor{}, nil, lostWhileWaiting(q)
			case live && !deletedKey(resp, pred.key, pred.createRev):
				if probeRev != 0 && lastRevision(resp) >= probeRev {
					lagging, *worked = nil, true // the watch is live
				}
			case live && pred.alone:
				// pred was the last key older than q's, and q's key was
				// still there at its deletion: a deletion of q's key, in
				// an earlier response or in this one, is caught above.
				g, err := q.headGrant(ctx, b)
				return predecessor{}, g, err
			default: // pred deleted, or the watch ended
				var seen int64 // the deletion's revision, if that is what ended the wait
				if live {
					seen = lastRevision(resp)
				}
				next, g, err := b.recheck(ctx, q, seen)
				if err != nil || g != nil || next.key != pred.key {
					return next, g, err
				}
				if !live {
					// Nothing changed: watching again at once could
					// loop as fast as the member ends the watches.
					return next, nil, watchEnded(resp, ok)
				}
			}
		}
	}
}

// watch watches pred's key from the current revision; for a lone
// predecessor (see predecessor.alone), the key range from pred's key to q's,
// both included, so that the watch that grants q the lock without a read
// also shows whether q's own key went first. Other waiters' keys that fall
// in between add events that only count as proof that the watch is live.
func (b *backend) watch(ctx context.Context, q queueEntry, pred predecessor) clientv3.WatchChan {
	// A member cut off from the leader would keep the watch open and show
	// no deletion the others commit; one that requires a leader is ended
	// instead, and the waiter watches again, maybe through another member.
	ctx = clientv3.WithRequireLeader(ctx)
	if !pred.alone {
		return b.client.Watch(ctx, pred.key, clientv3.WithCreatedNotify())
	}
	lo, hi := pred.key, q.lk.name
	if hi < lo {
		lo, hi = hi, lo
	}
	return b.client.Watch(ctx, lo, clientv3.WithRange(hi+"\x00"), clientv3.WithCreatedNotify())
}

// lostWhileWaiting is the error of a waiter whose own key is gone.
func lostWhileWaiting(q queueEntry) error {
	cause := q.s.err()
	if cause == nil {
		cause = errors.New("the lock key was deleted while waiting")
	}
	return fmt.Errorf("%w: %w", lock.ErrLost, cause)
}

// probe touches pred if it and q's key both still exist, and returns the
// revision of the touch, or 0 if either is gone.
func (b *backend) probe(ctx context.Context, q queueEntry, pred predecessor) (int64, error) {
	resp, err := b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(q.lk.name), "=", q.rev),
			clientv3.Compare(clientv3.CreateRevision(pred.key), "=", pred.createRev)).
		Then(clientv3.OpPut(pred.key, "", clientv3.WithIgnoreValue(), clientv3.WithIgnoreLease())).
		Commit()
	if err != nil || !resp.Succeeded {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// deletedKey reports whether resp deletes the key named key that was created
// at revision created: a deletion after it. A watch that starts at a member
// behind the revision of the read that found the key replays what came
// before, and with names used again (session.go) that may be the deletion
// of an earlier key of the same name.
func deletedKey(resp clientv3.WatchResponse, key string, created int64) bool {
	for _, ev := range resp.Events {
		if ev.Type == mvccpb.DELETE && ev.Kv.ModRevision > created && string(ev.Kv.Key) == key {
			return true
		}
	}
	return false
}

func lastRevision(resp clientv3.WatchResponse) int64 {
	if len(resp.Events) == 0 {
		return 0
	}
	return resp.Events[len(resp.Events)-1].Kv.ModRevision
}

// recheck reads, in one transaction that requires q's key to exist still,
// the two keys just before it. No such key means q holds the lock; one
// makes it q's lone predecessor.
//
// After a deletion seen at revision seen (> 0), the read is first served by
// the member's own state (serializable: no ReadIndex round through raft,
// which showed in the handoff's tail). Any state at a revision from seen on
// is recent enough: no key older than q's can be created later, so a queue
// without one at that revision has q at its head from then on, as long as
// q's key lives (and a lost session ends the lease as always). A member
// that has not applied seen yet answers with an older revision, and the
// read is made again, linearizable.
func (b *backend) recheck(ctx context.Context, q queueEntry, seen int64) (predecessor, *grant, error) {
	var resp *clientv3.TxnResponse
	if seen > 0 {
		r, err := b.readBefore(ctx, q, clientv3.WithSerializable())
		if err == nil && r.Header.Revision >= seen {
			resp = r
		}
	}
	if resp == nil {
		r, err := b.readBefore(ctx, q)
		if err != nil {
			return predecessor{}, nil, err
		}
		resp = r
	}
	if !resp.Succeeded {
		return predecessor{}, nil, lostWhileWaiting(q)
	}
	if err := q.sessionLost(); err != nil {
		return predecessor{}, nil, err
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return predecessor{}, q.grant(b), nil
	}
	return predecessor{key: string(kvs[0].Key), createRev: kvs[0].CreateRevision, alone: len(kvs) == 1}, nil, nil
}

// readBefore reads, if q's key still exists, the two keys just before it in
// its queue.
func (b *backend) readBefore(ctx context.Context, q queueEntry, opts ...clientv3.OpOption) (*clientv3.TxnResponse, error) {
	before := clientv3.OpGet(q.lk.pfx, append([]clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithMaxCreateRev(q.rev - 1),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(2)}, opts...)...)
	return b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(q.lk.name), "=", q.rev)).
		Then(before).
		Commit()
}
