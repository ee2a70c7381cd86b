package zklock

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/workpool"
	"github.com/racefree/racefree/lock"
)

// DefaultRoot is the znode under which a Locker keeps its keys when no WithRoot
// option is given.
const DefaultRoot = "/racefree/locks"

// MinTTL is the shortest lease TTL a Locker accepts. With ZooKeeper the TTL does
// not bound the grant on the server (the session does): it sets how often a
// held lease checks its node (every TTL/3) and the default safety margin
// (TTL/10).
const MinTTL = 100 * time.Millisecond

// Locker is a lock.Locker over ZooKeeper: protected ephemeral sequential znodes
// in one queue per key, each waiter watching only its predecessor.
type Locker struct {
	*lock.Client
}

var _ lock.Locker = (*Locker)(nil)

// Option configures a Locker.
type Option func(*options)

type options struct {
	root     string
	acl      []zk.ACL
	defaults []lock.Option
}

// WithRoot sets the znode under which the Locker keeps its keys: key k lives in
// the container znode root/escape(k). Default DefaultRoot. Missing znodes on
// the way are created as container nodes, which the server deletes once empty.
func WithRoot(path string) Option { return func(o *options) { o.root = path } }

// WithACL sets the ACL of the znodes the Locker creates. Default
// zk.WorldACL(zk.PermAll). Besides creating, listing and deleting lock nodes
// in a key's znode, a Locker writes the key's znode itself to take a free
// lock in one request (see the package doc); without zk.PermWrite, each
// acquisition sends a plain create after the refused multi, and lists the
// queue.
func WithACL(acl []zk.ACL) Option { return func(o *options) { o.acl = acl } }

// WithDefaults sets lock options (TTL, safety margin, ...) that apply to every
// call of the Locker before the call's own options.
func WithDefaults(opts ...lock.Option) Option {
	return func(o *options) { o.defaults = append(o.defaults, opts...) }
}

// New returns a Locker over conn, whose session was requested with
// sessionTimeout (the value given to zk.Connect). It does no I/O.
//
// The session timeout bounds every lease: go-zookeeper does not expose the
// timeout the server negotiated, so pass the one you asked for and make sure it
// lies within the server's minSessionTimeout and maxSessionTimeout (by default
// 2 and 20 ticks): a server that grants a shorter session than sessionTimeout
// can drop a lease before Done closes.
//
// The lease TTL defaults to sessionTimeout and may not exceed it. A nil
// Option is an error wrapping lock.ErrInvalidOption.
func New(conn *zk.Conn, sessionTimeout time.Duration, opts ...Option) (*Locker, error) {
	if conn == nil {
		return nil, errors.New("zklock: New: nil *zk.Conn")
	}
	if sessionTimeout < MinTTL {
		return nil, fmt.Errorf("zklock: New: session timeout %v is below %v", sessionTimeout, MinTTL)
	}
	o := options{root: DefaultRoot, acl: zk.WorldACL(zk.PermAll)}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("zklock: New: %w: nil Option", lock.ErrInvalidOption)
		}
		opt(&o)
	}
	if err := validateRoot(o.root); err != nil {
		return nil, fmt.Errorf("zklock: New: %w", err)
	}
	if len(o.acl) == 0 {
		return nil, errors.New("zklock: New: empty ACL")
	}
	b := &backend{conn: conn, sessionTimeout: sessionTimeout, root: o.root, acl: o.acl, pool: workpool.New(workerIdle)}
	defaults := append([]lock.Option{lock.WithTTL(sessionTimeout)}, o.defaults...)
	return &Locker{Client: lock.New(b, defaults...)}, nil
}
