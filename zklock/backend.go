package zklock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/workpool"
	"github.com/racefree/racefree/lock"
)

// backend is the lock.Backend over one ZooKeeper session.
type backend struct {
	conn           *zk.Conn
	sessionTimeout time.Duration
	root           string
	acl            []zk.ACL
	pool           *workpool.Pool // runs requests that a context may abandon, waiters' waits, and loss watches
}

// workerIdle is how long an idle worker of a Locker's pool lives. The Locker
// has no Close, so workers end on their own soon after the last request; in
// a busy process they are reused.
const workerIdle = 50 * time.Millisecond

var (
	_ lock.Backend = (*backend)(nil)
	_ lock.Waiter  = (*backend)(nil)
)

// Properties implements lock.Backend.
func (b *backend) Properties() lock.Properties {
	return lock.Properties{
		Name:         "zookeeper",
		Fencing:      true, // creation zxids
		FIFO:         true, // sequential nodes
		Linearizable: true, // writes go through ZAB
		// Lock nodes are replicated by a quorum; a session moves to another
		// server of the ensemble within its timeout.
		SurvivesFailover: true,
		LeaseTTL:         false, // the session timeout governs
		LossDetection:    b.sessionTimeout,
		MinTTL:           MinTTL,
	}
}

// checkTTL refuses a TTL longer than the session timeout: leases are checked
// every TTL/3, which must happen before the session can expire.
func (b *backend) checkTTL(ttl time.Duration) error {
	if ttl > b.sessionTimeout {
		return fmt.Errorf("%w: TTL %v exceeds the ZooKeeper session timeout %v, which bounds every lease", lock.ErrInvalidOption, ttl, b.sessionTimeout)
	}
	return nil
}

// TryGrant implements lock.Backend: it queues a node and keeps it only if it
// is at the head of the queue.
func (b *backend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	if err := b.checkTTL(ttl); err != nil {
		return nil, err
	}
	e, v, err := b.enter(ctx, key)
	if err != nil {
		return nil, err
	}
	if v.position == 0 {
		return newGrant(e, v.sent), nil
	}
	e.withdraw()
	return nil, lock.ErrNotAcquired
}

// WaitGrant implements lock.Waiter: it queues a node and waits, watching only
// the node just before its own, until its node heads the queue.
func (b *backend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	if err := b.checkTTL(ttl); err != nil {
		return nil, err
	}
	e, v, err := b.enter(ctx, key)
	if err != nil {
		return nil, err
	}
	for {
		if v.position == 0 {
			return newGrant(e, v.sent), nil
		}
		if v, err = e.next(ctx, v.predecessor); err != nil {
			e.withdraw()
			return nil, err
		}
	}
}

// cleanup deletes, in the background, a lock node whose create or delete
// outcome is unknown, found by its guid. It stops once the node is gone or its
// session has ended (expired, or the conn was closed), and gives up after
// twice the session timeout: by then the session has either reconnected (and
// the delete went through) or expired (and the server deleted the node).
func (b *backend) cleanup(dir, guid string) {
	deadline := time.Now().Add(2 * b.sessionTimeout)
	wasDisconnected := false
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		children, _, err := b.conn.Children(dir)
		if err == nil {
			name, ok := findGUID(children, guid)
			if !ok {
				return
			}
			err = b.conn.Delete(join(dir, name), -1)
		}
		if err == nil || sessionEnded(err) {
			return
		}
		// A closed conn stays disconnected; a live one is reconnecting.
		disconnected := b.conn.State() == zk.StateDisconnected
		if disconnected && wasDisconnected || time.Now().Add(wait).After(deadline) {
			return
		}
		wasDisconnected = disconnected
		time.Sleep(wait)
	}
}

// sessionEnded reports whether err says that a node is gone or the session
// that owned it has ended.
func sessionEnded(err error) bool {
	return errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing)
}
