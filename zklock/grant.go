package zklock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/lock"
)

// grant is a lock node at the head of its key's queue.
type grant struct {
	b     *backend
	dir   string
	guid  string
	path  string
	token uint64 // the node's creation zxid

	mu      sync.Mutex
	contact time.Time // send time of the last request that found the node alive

	lost  chan struct{} // closed by watchLoss
	cause error         // why; written before lost is closed
}

var (
	_ lock.Grant        = (*grant)(nil)
	_ lock.Expirer      = (*grant)(nil)
	_ lock.LossReporter = (*grant)(nil)
)

// newGrant makes a grant of e's node, seen alive by a request sent at contact,
// and starts watching for its loss.
func newGrant(e *entry, contact time.Time) *grant {
	g := &grant{
		b: e.b, dir: e.dir, guid: e.guid, path: e.path, token: e.token,
		contact: contact, lost: make(chan struct{}),
	}
	e.b.pool.Go(func() { g.watchLoss(e.watch) })
	return g
}

// watchLoss closes lost when the node goes away: deleted (by Release, by an
// operator, or by the server at session expiry), or its session ended. A nil
// watch is one to set first: for a node granted by its create (see enter),
// and after a change of the node's data.
func (g *grant) watchLoss(watch <-chan zk.Event) {
	for {
		if watch == nil {
			next, err := g.watchNode()
			if err != nil {
				g.cause = fmt.Errorf("lock node %s: watch lost: %w", g.path, err)
				if disconnected(err) {
					// The session may live on, and its node with it:
					// delete the node of a lease that ends here.
					go g.b.cleanup(g.dir, g.guid)
				}
				break
			}
			watch = next
		}
		ev := <-watch
		if ev.Err != nil {
			g.cause = fmt.Errorf("lock node %s: %w", g.path, ev.Err)
			break
		}
		if ev.Type == zk.EventNodeDeleted {
			g.cause = fmt.Errorf("lock node %s was deleted (session expired or node removed): %w", g.path, zk.ErrNoNode)
			break
		}
		watch = nil // a data change: watch again
	}
	close(g.lost)
}

// watchNode sets a watch on the grant's node, which must still be the
// grant's. A request that a broken connection cut is sent again:
// go-zookeeper holds it until the client is back in its session, as it would
// have kept a watch set before. It gives up when the request is cut twice in
// a row (a closed Conn fails requests at once; a connection that breaks
// again as soon as it is back is taken for one), and when no server answers
// until the session may have expired (Expiry).
func (g *grant) watchNode() (<-chan zk.Event, error) {
	cut := false
	for {
		// GetW, unlike ExistsW, leaves no watch behind on a node already
		// deleted (released before this ran, say).
		_, stat, watch, err := g.b.conn.GetW(g.path)
		switch {
		case err == nil && uint64(stat.Czxid) == g.token:
			return watch, nil
		case err == nil:
			return nil, fmt.Errorf("%w: created at zxid %d, not %d", zk.ErrNoNode, stat.Czxid, g.token)
		case !disconnected(err), cut && !errors.Is(err, zk.ErrNoServer), time.Now().After(g.Expiry()):
			return nil, err
		}
		cut = !errors.Is(err, zk.ErrNoServer)
		time.Sleep(time.Millisecond) // a request waits for the reconnect; this only bounds a loop
	}
}

// Token implements lock.Grant: the creation zxid of the lock node, which
// increases strictly across all writes of the ensemble.
func (g *grant) Token() uint64 { return g.token }

// Expiry implements lock.Expirer: the session outlives the last contact by at
// least the session timeout, the earliest the server may expire it.
func (g *grant) Expiry() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.contact.Add(g.b.sessionTimeout)
}

// Lost implements lock.LossReporter.
func (g *grant) Lost() <-chan struct{} { return g.lost }

// LossCause implements lock.LossReporter.
func (g *grant) LossCause() error {
	select {
	case <-g.lost:
		return g.cause
	default:
		return nil
	}
}

// Refresh implements lock.Grant. The grant lives as long as the session, so
// Refresh only proves to the server that the node still exists, which moves
// the last contact (and so Expiry) to the send time of the check.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	if err := g.b.checkTTL(ttl); err != nil {
		return err
	}
	sent := time.Now()
	stat, err := call(ctx, g.b.pool, func() (*zk.Stat, error) {
		exists, stat, err := g.b.conn.Exists(g.path)
		if err == nil && !exists {
			err = zk.ErrNoNode
		}
		return stat, err
	}, nil)
	switch {
	case errors.Is(err, zk.ErrNoNode), err == nil && uint64(stat.Czxid) != g.token:
		return fmt.Errorf("%w: lock node %s is gone", lock.ErrNotHeld, g.path)
	case err != nil:
		return zkErr("exists", g.path, err)
	}
	g.mu.Lock()
	g.contact = sent
	g.mu.Unlock()
	return nil
}

// Release implements lock.Grant: it deletes the lock node, which wakes the next
// waiter. The node's name is unique to this grant. When the outcome is unknown
// (the connection broke), the delete is retried in the background.
func (g *grant) Release(ctx context.Context) error {
	if cause := g.LossCause(); cause != nil && sessionEnded(cause) {
		return fmt.Errorf("%w: %w", lock.ErrNotHeld, cause)
	}
	_, err := call(ctx, g.b.pool, func() (struct{}, error) {
		return struct{}{}, g.b.conn.Delete(g.path, -1)
	}, func(_ struct{}, err error) {
		if err != nil && !sessionEnded(err) {
			g.b.cleanup(g.dir, g.guid)
		}
	})
	switch {
	case err == nil:
		return nil
	case sessionEnded(err):
		return fmt.Errorf("%w: lock node %s: %w", lock.ErrNotHeld, g.path, err)
	case !isContextErr(err):
		go g.b.cleanup(g.dir, g.guid)
	}
	return zkErr("delete", g.path, err)
}
