package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// session is one etcd lease shared by the locks of a Locker with the same TTL,
// kept alive by a goroutine until it is lost or closed.
type session struct {
	client   *clientv3.Client
	id       clientv3.LeaseID
	ttl      time.Duration // as granted by the server; never changes
	interval time.Duration // between keep-alives

	namesMu sync.Mutex
	inUse   map[string]map[uint64]struct{} // per queue prefix: numbers of this session's keys that may exist

	mu       sync.Mutex
	lastSent time.Time // send time of the last successful grant or keep-alive
	cause    error     // why the session ended; nil while alive
	lost     chan struct{}

	stopKeepAlive context.CancelFunc
	stopped       chan struct{} // closed when the keep-alive goroutine returns
}

// grantSession grants a lease of ttl seconds and starts keeping it alive.
func grantSession(ctx context.Context, client *clientv3.Client, seconds int64) (*session, error) {
	sent := time.Now()
	resp, err := client.Grant(ctx, seconds)
	if err != nil {
		return nil, fmt.Errorf("grant session lease: %w", err)
	}
	ttl := time.Duration(resp.TTL) * time.Second
	s := &session{
		client:   client,
		id:       resp.ID,
		ttl:      ttl,
		interval: min(ttl/3, KeepAliveInterval),
		lastSent: sent,
		lost:     make(chan struct{}),
		stopped:  make(chan struct{}),
		inUse:    make(map[string]map[uint64]struct{}),
	}
	kaCtx, cancel := context.WithCancel(context.Background())
	s.stopKeepAlive = cancel
	go s.keepAlive(kaCtx)
	return s, nil
}

// lockKey is a queue key of a session: pfx, the session's lease and a number
// that no other key of the session under pfx has while this one may exist.
type lockKey struct {
	pfx  string
	num  uint64
	name string
}

// newKey returns a key under pfx that no other acquisition uses: the
// session's lowest number under pfx not in use. Numbers are used again once
// their key is known to be deleted (freeKey), so that a lock taken again
// and again by one session creates the same few keys rather than a new one
// each time: etcd keeps every key ever created in its index until the
// history is compacted, and a read of a queue visits all of its keys, live
// or deleted (etcd's concurrency.Mutex names its key after the lease alone,
// for the same reason).
func (s *session) newKey(pfx string) lockKey {
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	used := s.inUse[pfx]
	if used == nil {
		used = make(map[uint64]struct{})
		s.inUse[pfx] = used
	}
	num := uint64(1)
	for {
		if _, taken := used[num]; !taken {
			break
		}
		num++
	}
	used[num] = struct{}{}
	return lockKey{pfx: pfx, num: num, name: fmt.Sprintf("%s%016x-%x", pfx, int64(s.id), num)}
}

// freeKey lets k's number be used again: k must be deleted on the server
// (or never created), so that a new key of that name is a new key, with a
// create revision of its own.
func (s *session) freeKey(k lockKey) {
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	used := s.inUse[k.pfx]
	delete(used, k.num)
	if len(used) == 0 {
		delete(s.inUse, k.pfx)
	}
}

// expiry is the earliest instant at which the server may expire the lease.
func (s *session) expiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSent.Add(s.ttl)
}

// err returns why the session ended, or nil while it may still be alive.
func (s *session) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cause == nil && !time.Now().Before(s.lastSent.Add(s.ttl)) {
		s.loseLocked(fmt.Errorf("etcd lease %x: not kept alive within its TTL %v", int64(s.id), s.ttl))
	}
	return s.cause
}

// renewed records a successful keep-alive sent at sent. (A keep-alive
// response carries the TTL granted, which does not change.)
func (s *session) renewed(sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cause == nil && sent.After(s.lastSent) {
		s.lastSent = sent
	}
}

func (s *session) lose(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseLocked(cause)
}

func (s *session) loseLocked(cause error) {
	if s.cause != nil {
		return
	}
	s.cause = cause
	close(s.lost)
}

// leaseGone turns a keep-alive or request error saying the lease does not
// exist into the session's loss; it reports whether it did.
func (s *session) leaseGone(err error) bool {
	if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return false
	}
	s.lose(fmt.Errorf("etcd lease %x revoked or expired on the server: %w", int64(s.id), err))
	return true
}

// keepAliveOnce renews the lease once and records it; an error wrapping
// rpctypes.ErrLeaseNotFound also ends the session.
func (s *session) keepAliveOnce(ctx context.Context) error {
	sent := time.Now()
	if _, err := s.client.KeepAliveOnce(ctx, s.id); err != nil {
		s.leaseGone(err)
		return err
	}
	s.renewed(sent)
	return nil
}

// keepAlive renews the lease every interval until ctx is cancelled, the
// session is lost, or the lease has expired for want of a keep-alive.
func (s *session) keepAlive(ctx context.Context) {
	defer close(s.stopped)
	retry := min(s.interval/5, 100*time.Millisecond)
	timer := time.NewTimer(s.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.lost:
			return
		case <-s.client.Ctx().Done():
			s.lose(fmt.Errorf("etcd lease %x: client closed: %w", int64(s.id), s.client.Ctx().Err()))
			return
		case <-timer.C:
		}
		attempt, cancel := context.WithTimeout(ctx, s.interval)
		err := s.keepAliveOnce(attempt)
		cancel()
		next := s.interval
		if err != nil {
			if s.err() != nil || ctx.Err() != nil {
				return
			}
			next = retry
		}
		timer.Reset(next)
	}
}

// close stops the keep-alives, revokes the lease if revoke is set, and ends
// the session with ErrClosed.
func (s *session) close(ctx context.Context, revoke bool) error {
	s.stopKeepAlive()
	<-s.stopped
	alive := s.err() == nil
	s.lose(ErrClosed)
	if !revoke || !alive || s.client.Ctx().Err() != nil {
		return nil
	}
	if _, err := s.client.Revoke(ctx, s.id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoke etcd lease %x: %w", int64(s.id), err)
	}
	return nil
}
