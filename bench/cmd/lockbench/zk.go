package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/zklock"
)

// zkSession is the session timeout every ZooKeeper contender asks for.
const zkSession = 10 * time.Second

func zkSpecs() []spec {
	return []spec{
		{name: "racefree/zk", backend: "zookeeper", kind: kindRacefree, fencing: true,
			note: "zklock.New: protected ephemeral sequential, watch predecessor", open: openRacefreeZK},
		{name: "zk.Lock", backend: "zookeeper", kind: kindPeer,
			note: "go-zookeeper/zk Lock (ephemeral sequential, watch predecessor)", open: openZKLock},
		{name: "floor/zk", backend: "zookeeper", kind: kindFloor,
			note: "create ephemeral + delete, poll every 0-1 ms", open: openZKFloor},
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connectZK opens a session and waits until it is established.
func connectZK(ctx context.Context, e *env) (*zk.Conn, error) {
	conn, events, err := zk.Connect(e.zk, zkSession, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() { // keep the channel drained
					for range events {
					}
				}()
				return conn, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		}
	}
}

func openRacefreeZK(ctx context.Context, e *env, key string) (mutex, error) {
	conn, err := connectZK(ctx, e)
	if err != nil {
		return nil, err
	}
	l, err := zklock.New(conn, zkSession, zklock.WithRoot("/lockbench/racefree"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &leaseMutex{locker: l, key: key, closer: func() error { conn.Close(); return nil }}, nil
}

// ensurePath creates the persistent znodes of path that are missing.
func ensurePath(conn *zk.Conn, path string) error {
	p := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		p += "/" + part
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

// zkLockMutex is a contender on go-zookeeper's own Lock recipe. It takes no
// context: a cell that ends while it waits lets it finish its turn.
type zkLockMutex struct {
	conn *zk.Conn
	l    *zk.Lock
}

func openZKLock(ctx context.Context, e *env, key string) (mutex, error) {
	conn, err := connectZK(ctx, e)
	if err != nil {
		return nil, err
	}
	path := "/lockbench/peer/" + key
	if err := e.once(ctx, "zk:"+path, func(context.Context) error { return ensurePath(conn, path) }); err != nil {
		conn.Close()
		return nil, err
	}
	return &zkLockMutex{conn: conn, l: zk.NewLock(conn, path, zk.WorldACL(zk.PermAll))}, nil
}

func (m *zkLockMutex) Lock(context.Context) (uint64, error) { return 0, m.l.Lock() }
func (m *zkLockMutex) Unlock(context.Context) error         { return m.l.Unlock() }
func (m *zkLockMutex) Close() error                         { m.conn.Close(); return nil }

// zkFloor is the raw protocol: create an ephemeral node, delete it, and
// poll while it exists.
type zkFloor struct {
	conn *zk.Conn
	path string
}

func openZKFloor(ctx context.Context, e *env, key string) (mutex, error) {
	conn, err := connectZK(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := e.once(ctx, "zk:/lockbench/floor", func(context.Context) error { return ensurePath(conn, "/lockbench/floor") }); err != nil {
		conn.Close()
		return nil, err
	}
	return &zkFloor{conn: conn, path: "/lockbench/floor/" + key}, nil
}

func (f *zkFloor) Lock(ctx context.Context) (uint64, error) {
	for {
		_, err := f.conn.Create(f.path, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if err == nil {
			return 0, nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return 0, err
		}
		if err := floorPoll(ctx); err != nil {
			return 0, err
		}
	}
}

func (f *zkFloor) Unlock(context.Context) error { return f.conn.Delete(f.path, -1) }
func (f *zkFloor) Close() error                 { f.conn.Close(); return nil }

// zkVersion asks a ZooKeeper server for its version with the srvr command.
func zkVersion(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "?"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "?"
	}
	b, _ := io.ReadAll(c)
	line, _, _ := strings.Cut(string(b), "\n")
	v := strings.TrimPrefix(line, "Zookeeper version: ")
	v, _, _ = strings.Cut(v, "-")
	return v
}
