package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/racefree/racefree/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// cleanupTimeout bounds the deletion of a key left by a failed or cancelled
// acquisition.
const cleanupTimeout = 5 * time.Second

// backend implements lock.Backend and lock.Waiter on etcd.
type backend struct {
	client *clientv3.Client
	prefix string

	mu       sync.Mutex
	closed   bool
	sessions map[int64]*sessionSlot // by TTL in seconds
}

// sessionSlot holds the live session of one TTL, or the promise of one while
// it is being granted.
type sessionSlot struct {
	s     *session
	ready chan struct{} // closed once the grant has finished, well or not
}

var (
	_ lock.Backend = (*backend)(nil)
	_ lock.Waiter  = (*backend)(nil)
)

func newBackend(client *clientv3.Client, prefix string) *backend {
	return &backend{client: client, prefix: prefix, sessions: make(map[int64]*sessionSlot)}
}

func (b *backend) Properties() lock.Properties {
	return lock.Properties{
		Name:             "etcd",
		Fencing:          true,
		FIFO:             true,
		Linearizable:     true,
		SurvivesFailover: true,
		LeaseTTL:         false,
		LossDetection:    2 * KeepAliveInterval,
		MinTTL:           MinTTL,
	}
}

// keyPrefix is the prefix of every queue key of the lock on key.
func (b *backend) keyPrefix(key string) string {
	return b.prefix + "/" + url.PathEscape(key) + "/"
}

// ttlSeconds rounds ttl up to whole seconds, as etcd leases count them.
func ttlSeconds(ttl time.Duration) int64 {
	return int64((ttl + time.Second - 1) / time.Second)
}

// session returns the live session for ttl, granting one if there is none.
func (b *backend) session(ctx context.Context, ttl time.Duration) (*session, error) {
	if b.client == nil {
		return nil, ErrNilClient
	}
	secs := ttlSeconds(ttl)
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		slot := b.sessions[secs]
		if slot != nil && slot.s == nil {
			b.mu.Unlock()
			select {
			case <-slot.ready:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if slot != nil && slot.s.err() == nil {
			b.mu.Unlock()
			return slot.s, nil
		}
		slot = &sessionSlot{ready: make(chan struct{})}
		b.sessions[secs] = slot
		b.mu.Unlock()
		return b.grantSession(ctx, secs, slot)
	}
}

// grantSession grants the session promised by slot.
func (b *backend) grantSession(ctx context.Context, secs int64, slot *sessionSlot) (*session, error) {
	defer close(slot.ready)
	s, err := grantSession(ctx, b.client, secs)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		delete(b.sessions, secs)
		return nil, err
	}
	if b.closed {
		delete(b.sessions, secs)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = s.close(closeCtx, true)
		return nil, ErrClosed
	}
	slot.s = s
	return s, nil
}

func (b *backend) close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var live []*session
	for _, slot := range b.sessions {
		if slot.s != nil {
			live = append(live, slot.s)
		}
	}
	b.mu.Unlock()
	var errs []error
	for _, s := range live {
		errs = append(errs, s.close(ctx, true))
	}
	return errors.Join(errs...)
}

// errStaleSession marks a key creation refused because the session's lease
// no longer exists on the server.
var errStaleSession = errors.New("etcd session lease gone before the lock key was created")

// createErr is the error of a transaction that creates a lock key on s.
func createErr(s *session, err error) error {
	if s.leaseGone(err) {
		return fmt.Errorf("%w: %w", errStaleSession, err)
	}
	return err
}

// withSession runs op on the live session for ttl; when op could not create
// its key because the session's lease was gone, it grants a new session and
// runs op once more.
func (b *backend) withSession(ctx context.Context, ttl time.Duration, op func(*session) (lock.Grant, error)) (lock.Grant, error) {
	for attempt := 0; ; attempt++ {
		s, err := b.session(ctx, ttl)
		if err != nil {
			return nil, err
		}
		g, err := op(s)
		if attempt == 0 && errors.Is(err, errStaleSession) {
			continue
		}
		return g, err
	}
}

// deleteKey removes a key this process created for a failed or cancelled
// acquisition, with a context that outlives ctx's cancellation, and lets its
// name be used again once it is gone. (Should the deletion fail, the name
// stays taken: the key dies with the session's lease.)
func (b *backend) deleteKey(ctx context.Context, s *session, k lockKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := b.client.Delete(ctx, k.name); err == nil {
		s.freeKey(k)
	}
}

// TryGrant creates the caller's key only if no key of the lock exists, in one
// transaction.
func (b *backend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	return b.withSession(ctx, ttl, func(s *session) (lock.Grant, error) {
		pfx := b.keyPrefix(key)
		mine := s.newKey(pfx)
		resp, err := b.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(pfx), "=", 0).WithPrefix()).
			Then(clientv3.OpPut(mine.name, "", clientv3.WithLease(s.id))).
			Commit()
		if err != nil {
			b.deleteKey(ctx, s, mine)
			return nil, createErr(s, err)
		}
		if !resp.Succeeded {
			s.freeKey(mine) // not created
			return nil, lock.ErrNotAcquired
		}
		return &grant{b: b, s: s, lk: mine, rev: resp.Header.Revision}, nil
	})
}

// WaitGrant queues the caller's key and waits until every older key of the
// lock is gone.
func (b *backend) WaitGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	return b.withSession(ctx, ttl, func(s *session) (lock.Grant, error) {
		mine := s.newKey(b.keyPrefix(key))
		g, err := b.enqueueAndWait(ctx, s, mine)
		if err != nil {
			b.deleteKey(ctx, s, mine)
			return nil, err
		}
		return g, nil
	})
}
