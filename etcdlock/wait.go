package etcdlock

import (
	"context"
	"errors"
	"fmt"

	"github.com/racefree/racefree/lock"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// queueEntry is a key in a lock's queue as a waiter sees it.
type queueEntry struct {
	s   *session
	pfx string // the lock's queue prefix
	key string // this waiter's key
	rev int64  // its create revision
}

// enqueueAndWait creates key mine under pfx with the session lease and waits
// until it is the oldest key there. In one transaction it creates the key and,
// unless the queue was empty, reads the key just before it.
func (b *backend) enqueueAndWait(ctx context.Context, s *session, pfx, mine string) (lock.Grant, error) {
	put := clientv3.OpPut(mine, "", clientv3.WithLease(s.id))
	lastTwo := clientv3.OpGet(pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(2))
	resp, err := b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(pfx), "=", 0).WithPrefix()).
		Then(put).
		Else(put, lastTwo).
		Commit()
	if err != nil {
		return nil, err
	}
	q := queueEntry{s: s, pfx: pfx, key: mine, rev: resp.Header.Revision}
	if resp.Succeeded {
		return q.grant(b), nil
	}
	kvs := resp.Responses[1].GetResponseRange().GetKvs()
	if len(kvs) != 2 || string(kvs[0].Key) != mine {
		return nil, fmt.Errorf("etcd queue of %q changed inside a transaction: read %d keys", pfx, len(kvs))
	}
	return b.wait(ctx, q, string(kvs[1].Key), resp.Header.Revision)
}

func (q queueEntry) grant(b *backend) *grant {
	return &grant{b: b, s: q.s, key: q.key, rev: q.rev}
}

// wait watches pred, the key just before q's, which existed at revision seen,
// until q's key is the oldest. Each watch starts at the current revision, so
// the server delivers the deletion as it happens; a deletion between seen and
// the watch's creation is caught by a re-check.
func (b *backend) wait(ctx context.Context, q queueEntry, pred string, seen int64) (lock.Grant, error) {
	for {
		next, granted, err := b.watchPredecessor(ctx, q, pred, seen)
		if err != nil || granted != nil {
			return granted, err
		}
		pred, seen = next.key, next.rev
	}
}

// predecessor is the key before a waiter's and the revision it was seen at.
type predecessor struct {
	key string
	rev int64
}

// watchPredecessor waits for pred's deletion, then re-checks the queue. It
// returns the grant, or the new predecessor to watch.
func (b *backend) watchPredecessor(ctx context.Context, q queueEntry, pred string, seen int64) (predecessor, *grant, error) {
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := b.client.Watch(watchCtx, pred, clientv3.WithCreatedNotify(), clientv3.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return predecessor{}, nil, ctx.Err()
		case <-q.s.lost:
			return predecessor{}, nil, fmt.Errorf("%w: while waiting: %w", lock.ErrLost, q.s.err())
		case resp, ok := <-events:
			if ok && resp.Created && resp.Header.Revision <= seen {
				continue // the watch covers every revision after seen
			}
			if ok && !resp.Created && !deleted(resp) && resp.Err() == nil {
				continue
			}
			next, g, err := b.recheck(ctx, q)
			if err != nil || g != nil || next.key != pred {
				return next, g, err
			}
			if !ok || resp.Err() != nil {
				return next, nil, nil // watch anew
			}
			seen = next.rev
		}
	}
}

func deleted(resp clientv3.WatchResponse) bool {
	for _, ev := range resp.Events {
		if ev.Type == mvccpb.DELETE {
			return true
		}
	}
	return false
}

// recheck reads, in one transaction that requires q's key to exist still,
// the key just before it. No such key means q holds the lock.
func (b *backend) recheck(ctx context.Context, q queueEntry) (predecessor, *grant, error) {
	before := clientv3.OpGet(q.pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithMaxCreateRev(q.rev-1),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(1))
	resp, err := b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(q.key), "=", q.rev)).
		Then(before).
		Commit()
	if err != nil {
		return predecessor{}, nil, err
	}
	if !resp.Succeeded {
		cause := q.s.err()
		if cause == nil {
			cause = errors.New("the lock key was deleted while waiting")
		}
		return predecessor{}, nil, fmt.Errorf("%w: %w", lock.ErrLost, cause)
	}
	if err := q.s.err(); err != nil {
		return predecessor{}, nil, fmt.Errorf("%w: %w", lock.ErrLost, err)
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return predecessor{}, q.grant(b), nil
	}
	return predecessor{key: string(kvs[0].Key), rev: resp.Header.Revision}, nil, nil
}
