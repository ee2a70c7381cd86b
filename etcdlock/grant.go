package etcdlock

import (
	"context"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// grant is a held lock: the oldest key of its lock's queue.
type grant struct {
	b   *backend
	s   *session
	lk  lockKey
	rev int64 // create revision of lk: the fencing token
}

var (
	_ lock.Grant        = (*grant)(nil)
	_ lock.Expirer      = (*grant)(nil)
	_ lock.LossReporter = (*grant)(nil)
)

func (g *grant) Token() uint64 { return uint64(g.rev) }

// Expiry is the session lease's expiry: the send time of its last successful
// grant or keep-alive plus its TTL.
func (g *grant) Expiry() time.Time { return g.s.expiry() }

// Lost is closed when the session lease is known to be gone.
func (g *grant) Lost() <-chan struct{} { return g.s.lost }

func (g *grant) LossCause() error { return g.s.err() }

// isMine is true while key is this grant's key.
func (g *grant) isMine() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(g.lk.name), "=", g.rev)
}

// Refresh renews the session lease and checks that the key is still this
// grant's. ttl may not exceed the session's TTL, which governs the key.
func (g *grant) Refresh(ctx context.Context, ttl time.Duration) error {
	if ttl > g.s.ttl {
		return fmt.Errorf("%w: TTL %v exceeds the %v TTL of the etcd session holding the lock; acquire with lock.WithTTL for a longer one", lock.ErrInvalidOption, ttl, g.s.ttl)
	}
	if err := g.s.err(); err != nil {
		return fmt.Errorf("%w: %w", lock.ErrNotHeld, err)
	}
	if err := g.s.keepAliveOnce(ctx); err != nil {
		if cause := g.s.err(); cause != nil {
			return fmt.Errorf("%w: %w", lock.ErrNotHeld, cause)
		}
		return err
	}
	resp, err := g.b.client.Txn(ctx).If(g.isMine()).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: etcd key %q of revision %d is gone", lock.ErrNotHeld, g.lk.name, g.rev)
	}
	return nil
}

// Release deletes the key if it is still this grant's; either way, once the
// answer says the key is gone, its name may be used again.
func (g *grant) Release(ctx context.Context) error {
	resp, err := g.b.client.Txn(ctx).If(g.isMine()).Then(clientv3.OpDelete(g.lk.name)).Commit()
	if err != nil {
		return err
	}
	g.s.freeKey(g.lk)
	if !resp.Succeeded {
		return fmt.Errorf("%w: etcd key %q of revision %d is gone", lock.ErrNotHeld, g.lk.name, g.rev)
	}
	return nil
}
