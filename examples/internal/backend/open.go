package backend

import (
	"context"
	"fmt"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/etcdlock"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/redlock"
	"github.com/racefree/racefree/sqllock"
	"github.com/racefree/racefree/zklock"
)

// LockerKinds lists the -lock values.
func LockerKinds() []string {
	return []string{Memory, "redis", "redlock", "etcd", "zookeeper", "postgres", "mysql", "dynamodb", "mongodb"}
}

// StoreKinds lists the -store values.
func StoreKinds() []string {
	return []string{Memory, "postgres", "mysql", "dynamodb", "mongodb"}
}

// openLocker opens a Locker of a kind listed by LockerKinds: the kind's own
// adapter, or for the document stores a caslock.Locker over their Store.
func openLocker(ctx context.Context, kind string, e endpoints) (lock.Locker, func(), error) {
	switch kind {
	case "redis", "redlock":
		clients, closeAll, err := redisClients(e, kind == "redlock")
		if err != nil {
			return nil, nil, err
		}
		var l *redlock.Locker
		if kind == "redis" {
			l, err = redlock.New(clients[0])
		} else {
			l, err = redlock.NewQuorum(clients)
		}
		return closeOnError(l, closeAll, err)
	case "etcd":
		cli, err := etcdClient(e)
		if err != nil {
			return nil, nil, err
		}
		return etcdlock.New(cli), func() { _ = cli.Close() }, nil
	case "zookeeper":
		conn, err := zkConn(e)
		if err != nil {
			return nil, nil, err
		}
		l, err := zklock.New(conn, zkSessionTimeout)
		return closeOnError(l, conn.Close, err)
	case "postgres", "mysql":
		db, dialect, err := openSQL(ctx, kind, e)
		if err != nil {
			return nil, nil, err
		}
		closeDB := func() { _ = db.Close() }
		l, err := sqllock.NewLeaseLocker(db, dialect, sqllock.LeaseConfig{})
		if err == nil {
			err = l.EnsureSchema(ctx)
		}
		return closeOnError(l, closeDB, err)
	case "dynamodb", "mongodb":
		s, closeStore, err := openStore(ctx, kind, e)
		if err != nil {
			return nil, nil, err
		}
		l, err := caslock.New(s)
		return closeOnError(l, closeStore, err)
	default:
		return lock.NewMemory(), func() {}, nil
	}
}

// openStore opens a Store of a kind listed by StoreKinds.
func openStore(ctx context.Context, kind string, e endpoints) (cas.Store, func(), error) {
	switch kind {
	case "postgres", "mysql":
		return openSQLStore(ctx, kind, e)
	case "dynamodb":
		return openDynamoStore(ctx, e)
	case "mongodb":
		return openMongoStore(ctx, e)
	default:
		return cas.NewMemory(), func() {}, nil
	}
}

// closeOnError returns v and closer, or closes and returns err.
func closeOnError[T any](v T, closer func(), err error) (T, func(), error) {
	if err != nil {
		closer()
		var zero T
		return zero, nil, fmt.Errorf("open: %w", err)
	}
	return v, closer, nil
}
