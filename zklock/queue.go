package zklock

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/lock"
)

// maxAttempts bounds the retries of a create whose parent vanished or whose
// connection broke.
const maxAttempts = 5

// entry is this process's node in a key's queue.
type entry struct {
	b     *backend
	dir   string // the key's znode
	guid  string
	name  string // the node's name in dir
	path  string
	token uint64          // the node's creation zxid
	watch <-chan zk.Event // fires when the node is deleted or the session ends; nil until watched
}

// view is what one listing of the queue showed an entry.
type view struct {
	position    int    // 0: the entry heads the queue
	predecessor string // the node just before the entry's
	sent        time.Time
}

// enter creates a node in key's queue and finds its place. The create also
// touches the key's znode in the same transaction (see createProtected),
// whose stat then tells whether the node is the only one: the lock is free
// and taken in one round trip, and the node is watched for its loss once
// granted (newGrant). Otherwise (also when the create came without that
// stat) it reads the queue and, with a watch, the node's stat, in two
// pipelined requests.
func (b *backend) enter(ctx context.Context, key string) (*entry, view, error) {
	guid, err := newGUID()
	if err != nil {
		return nil, view{}, err
	}
	e := &entry{b: b, dir: join(b.root, escapeKey(key)), guid: guid}
	sent := time.Now()
	c, err := b.createProtected(ctx, e.dir, guid)
	if err != nil {
		return nil, view{}, err
	}
	e.path, e.name = c.path, path.Base(c.path)
	if c.dir != nil && c.dir.NumChildren == 1 {
		if err := ctx.Err(); err != nil {
			e.withdraw() // the caller gave up while the create was on its way
			return nil, view{}, err
		}
		e.token = uint64(c.dir.Mzxid)
		return e, view{position: 0, sent: sent}, nil
	}

	type statResult struct {
		exists bool
		stat   *zk.Stat
		watch  <-chan zk.Event
		err    error
	}
	stated := make(chan statResult, 1)
	b.pool.Go(func() {
		var r statResult
		for attempt := 1; ; attempt++ {
			r.exists, r.stat, r.watch, r.err = b.conn.ExistsW(e.path)
			if !retryWhileReconnecting(ctx, r.err, attempt) {
				break
			}
		}
		stated <- r
	})
	v, lookErr := e.look(ctx)
	r := <-stated // not abandoned on ctx: a local round trip, bounded by the connection's timeouts
	switch {
	case lookErr != nil:
		err = lookErr
	case r.err != nil:
		err = zkErr("exists", e.path, r.err)
	case !r.exists:
		err = fmt.Errorf("%w: lock node %s vanished after its creation", lock.ErrLost, e.path)
	}
	if err != nil {
		e.withdraw()
		return nil, view{}, err
	}
	e.token, e.watch = uint64(r.stat.Czxid), r.watch
	return e, v, nil
}

// look lists the queue and finds the entry's place in it, on a worker that
// ctx may abandon (see list).
func (e *entry) look(ctx context.Context) (view, error) {
	return call(ctx, e.b.pool, func() (view, error) { return e.list(ctx) }, nil)
}

// list lists the queue and finds the entry's place in it. A listing that
// fails because the connection is down for now is tried again a few times:
// the session, and so the entry's node, outlives a reconnect.
func (e *entry) list(ctx context.Context) (view, error) {
	var (
		sent     time.Time
		children []string
		err      error
	)
	for attempt := 1; ; attempt++ {
		sent = time.Now()
		children, _, err = e.b.conn.Children(e.dir)
		if !retryWhileReconnecting(ctx, err, attempt) {
			break
		}
	}
	if err != nil {
		return view{}, zkErr("children", e.dir, err)
	}
	q := queue(children)
	i := slices.Index(q, e.name)
	switch {
	case i < 0:
		return view{}, fmt.Errorf("%w: lock node %s is gone (session expired?)", lock.ErrLost, e.path)
	case i == 0:
		return view{position: 0, sent: sent}, nil
	}
	return view{position: i, predecessor: q[i-1], sent: sent}, nil
}

// next returns the entry's place once the node pred is gone. It returns
// ctx's error once ctx is done, ErrLost once the entry's own node or session
// is lost, and the error of a request that failed. One worker sets the
// watch on pred, waits for its deletion and lists the queue at once, with no
// handoff between goroutines in between (each showed in the time from a
// release to the next grant); the caller waits for its answer, for ctx and
// for its own node, and the worker stops when the caller returns.
func (e *entry) next(ctx context.Context, pred string) (view, error) {
	type result struct {
		v   view
		err error
	}
	done := make(chan result, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.b.pool.Go(func() {
		v, err := e.waitThenList(wctx, pred)
		done <- result{v, err}
	})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return view{}, ctx.Err()
	case ev := <-e.watch:
		return view{}, fmt.Errorf("%w: lock node %s: %v event while waiting: %w", lock.ErrLost, e.path, ev.Type, errors.Join(ev.Err, zk.ErrNoNode))
	}
}

// waitThenList waits until the node pred is gone, then lists the queue
// (list), unless ctx ends first.
func (e *entry) waitThenList(ctx context.Context, pred string) (view, error) {
	if err := ctx.Err(); err != nil {
		return view{}, err
	}
	p := join(e.dir, pred)
	// GetW, unlike ExistsW, leaves no watch behind when pred is already gone.
	_, _, deleted, err := e.b.conn.GetW(p)
	switch {
	case errors.Is(err, zk.ErrNoNode):
	case err != nil:
		return view{}, zkErr("get", p, err)
	default:
		select {
		case <-ctx.Done():
			return view{}, ctx.Err()
		case ev := <-deleted:
			if ev.Err != nil {
				return view{}, fmt.Errorf("%w: waiting for %s: %w", lock.ErrLost, p, ev.Err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return view{}, err
	}
	return e.list(ctx)
}

// withdraw deletes the entry's node after a failed or refused acquisition. It
// does not take a context: it runs once the caller's context may be done. If
// the delete fails, it is retried in the background.
func (e *entry) withdraw() {
	err := e.b.conn.Delete(e.path, -1)
	if err != nil && !sessionEnded(err) {
		go e.b.cleanup(e.dir, e.guid)
	}
}

// created is a lock node just created: its path and, when it was created
// by the multi and its reply came back, the stat of its key's znode right
// after the create (nil after a plain create, or a create found again after
// a broken connection).
type created struct {
	path string
	dir  *zk.Stat
}

// createProtected creates the ephemeral sequential node dir/_c_<guid>-lock-N
// and returns its path. In the same transaction (a multi), it sets dir's
// data to what it was (nothing), so that the reply carries dir's stat as of
// the create: its number of children, and its modification zxid, which is
// the transaction's and so the node's creation zxid (see createAndStat for
// a dir the Locker may not write). When the connection breaks before the
// reply, it looks for the guid among dir's children, as Curator's protected
// mode does; a node it may have created and cannot return is deleted in the
// background.
//
// The create itself is not abandoned when ctx ends: its reply, bounded by the
// connection's timeouts, is awaited, so that the caller can delete the node
// before it returns and leave nothing behind.
func (b *backend) createProtected(ctx context.Context, dir, guid string) (created, error) {
	prefix := join(dir, nodePrefix(guid))
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return created{}, err
		}
		c, err := b.createAndStat(prefix, dir)
		if err == nil {
			return c, nil
		}
		maybeCreated := ambiguous(err)
		if attempt < maxAttempts {
			switch {
			case errors.Is(err, zk.ErrNoNode):
				if err = b.ensure(ctx, dir); err == nil {
					continue
				}
			case maybeCreated:
				var name string
				if name, err = b.find(dir, guid); err == nil {
					if name != "" {
						return created{path: join(dir, name)}, nil
					}
					continue // not created: create again, with the same guid
				}
			}
		}
		if maybeCreated {
			go b.cleanup(dir, guid)
		}
		return created{}, zkErr("create", prefix, err)
	}
}

// createAndStat creates the ephemeral sequential node prefix in dir and sets
// dir's data to nothing, in one multi. A dir whose ACL does not let the
// Locker write it (made with another ACL) gets a plain create.
func (b *backend) createAndStat(prefix, dir string) (created, error) {
	c, err := b.createInMulti(prefix, dir)
	if errors.Is(err, zk.ErrNoAuth) {
		c.path, err = b.conn.Create(prefix, nil, zk.FlagEphemeralSequential, b.acl)
	}
	return c, err
}

// createInMulti is createAndStat's multi.
func (b *backend) createInMulti(prefix, dir string) (created, error) {
	res, err := b.conn.Multi(
		&zk.CreateRequest{Path: prefix, Acl: b.acl, Flags: zk.FlagEphemeralSequential},
		&zk.SetDataRequest{Path: dir, Version: -1},
	)
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("%w: multi of 2 operations answered %d", zk.ErrAPIError, len(res))
	}
	for i := 0; err == nil && i < len(res); i++ {
		err = res[i].Error // the failed operation's; those after it fail too
	}
	if err == nil && res[1].Stat == nil {
		err = fmt.Errorf("%w: multi answered no stat", zk.ErrAPIError)
	}
	if err != nil {
		return created{}, err
	}
	return created{path: res[0].String, dir: res[1].Stat}, nil
}

// find returns the name of the node created with guid in dir, or "" if there
// is none. It retries a few times while the connection is down. Like the
// create, it is not abandoned when the caller's context ends.
func (b *backend) find(dir, guid string) (string, error) {
	for attempt := 1; ; attempt++ {
		children, _, err := b.conn.Children(dir)
		if retryWhileReconnecting(context.Background(), err, attempt) {
			continue
		}
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return "", nil
		case err != nil:
			return "", err
		}
		name, _ := findGUID(children, guid)
		return name, nil
	}
}

// ensure creates dir and its missing ancestors as container nodes.
func (b *backend) ensure(ctx context.Context, dir string) error {
	_, err := call(ctx, b.pool, func() (string, error) {
		return b.conn.CreateContainer(dir, nil, zk.FlagContainer, b.acl)
	}, nil)
	if errors.Is(err, zk.ErrNoNode) && dir != "/" {
		if err = b.ensure(ctx, path.Dir(dir)); err == nil {
			return b.ensure(ctx, dir)
		}
	}
	if err == nil || errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// retryWhileReconnecting reports whether a request that failed with err on
// its attempt-th try should be sent again: the connection is down for now
// (the session outlives a reconnect), fewer than maxAttempts were made, and
// ctx is not done. It waits a little longer before each retry.
func retryWhileReconnecting(ctx context.Context, err error, attempt int) bool {
	if err == nil || !disconnected(err) || attempt >= maxAttempts {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		return true
	}
}
