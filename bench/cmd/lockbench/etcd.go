package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/racefree/racefree/etcdlock"
)

func etcdSpecs() []spec {
	return []spec{
		{name: "racefree/etcd", backend: "etcd", kind: kindRacefree, fencing: true,
			note: "etcdlock.New: session lease, create-revision queue, watch predecessor", open: openRacefreeEtcd},
		{name: "etcd/concurrency", backend: "etcd", kind: kindPeer, fencing: true,
			note: "client/v3/concurrency Mutex on a Session (TTL 60 s)", open: openEtcdMutex},
		{name: "floor/etcd", backend: "etcd", kind: kindFloor, fencing: true,
			note: "Txn put-if-absent (CreateRevision == 0) + Delete, poll every 0-1 ms", open: openEtcdFloor},
	}
}

func newEtcd(e *env) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: e.etcd, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

func openRacefreeEtcd(_ context.Context, e *env, key string) (mutex, error) {
	cli, err := newEtcd(e)
	if err != nil {
		return nil, err
	}
	l := etcdlock.New(cli, etcdlock.WithPrefix("lockbench/racefree"))
	return &leaseMutex{locker: l, key: key, closer: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(l.Close(ctx), cli.Close())
	}}, nil
}

// etcdMutex is a contender on etcd's own client/v3/concurrency Mutex.
type etcdMutex struct {
	cli *clientv3.Client
	s   *concurrency.Session
	m   *concurrency.Mutex
}

func openEtcdMutex(_ context.Context, e *env, key string) (mutex, error) {
	cli, err := newEtcd(e)
	if err != nil {
		return nil, err
	}
	s, err := concurrency.NewSession(cli)
	if err != nil {
		return nil, errors.Join(err, cli.Close())
	}
	return &etcdMutex{cli: cli, s: s, m: concurrency.NewMutex(s, "lockbench/peer/"+key)}, nil
}

func (m *etcdMutex) Lock(ctx context.Context) (uint64, error) {
	if err := m.m.Lock(ctx); err != nil {
		return 0, err
	}
	// The mutex's own key's create revision is its fencing token; Lock's
	// header revision is at least that, so read it back.
	resp, err := m.cli.Get(ctx, m.m.Key())
	if err != nil || len(resp.Kvs) == 0 {
		return 0, errors.Join(errors.New("etcd/concurrency: own key not found after Lock"), err)
	}
	return uint64(resp.Kvs[0].CreateRevision), nil
}

func (m *etcdMutex) Unlock(ctx context.Context) error { return m.m.Unlock(ctx) }

func (m *etcdMutex) Close() error { return errors.Join(m.s.Close(), m.cli.Close()) }

// etcdFloor is the raw protocol: put-if-absent in one Txn, Delete, and
// polling while the key exists.
type etcdFloor struct {
	cli *clientv3.Client
	key string
}

func openEtcdFloor(_ context.Context, e *env, key string) (mutex, error) {
	cli, err := newEtcd(e)
	if err != nil {
		return nil, err
	}
	return &etcdFloor{cli: cli, key: "lockbench/floor/" + key}, nil
}

func (f *etcdFloor) Lock(ctx context.Context) (uint64, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	for {
		resp, err := f.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(f.key), "=", 0)).
			Then(clientv3.OpPut(f.key, tok)).
			Commit()
		if err != nil {
			return 0, err
		}
		if resp.Succeeded {
			return uint64(resp.Header.Revision), nil
		}
		if err := floorPoll(ctx); err != nil {
			return 0, err
		}
	}
}

func (f *etcdFloor) Unlock(ctx context.Context) error {
	_, err := f.cli.Delete(ctx, f.key)
	return err
}

func (f *etcdFloor) Close() error { return f.cli.Close() }

// compactEtcd compacts etcd's history up to its current revision and waits
// until the compaction is applied, the way a production etcd is kept
// (Kubernetes' apiserver compacts every five minutes): the keys every cell
// before created stay in the server's index until compacted, and a heap that
// grows with them showed in the tail of the cells that came later.
func compactEtcd(ctx context.Context, e *env) error {
	cli, err := newEtcd(e)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "lockbench/compact", clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	_, err = cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil // nothing written since the last compaction
	}
	return err
}
