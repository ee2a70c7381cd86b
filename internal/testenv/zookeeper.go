package testenv

import (
	"context"
	"errors"
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ZooKeeperImage is the image of the ZooKeeper container (when no endpoint is given).
const ZooKeeperImage = "zookeeper:3.8"

// ZooKeeperServersVar lists the "host:port" of the ZooKeeper ensemble, comma separated.
const ZooKeeperServersVar = "RACEFREE_ZK_SERVERS"

// ZooKeeperSessionTimeout is the session timeout of the sessions ZooKeeper opens.
const ZooKeeperSessionTimeout = 10 * time.Second

var zkContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := startGeneric(ctx, testcontainers.ContainerRequest{
		Image:        ZooKeeperImage,
		ExposedPorts: []string{"2181/tcp"},
		Env:          map[string]string{"ZOO_4LW_COMMANDS_WHITELIST": "ruok,srvr,stat,mntr"},
		WaitingFor:   wait.ForListeningPort("2181/tcp"),
	})
	if err != nil {
		return "", err
	}
	return hostPort(ctx, c, "2181/tcp")
}}

// ZooKeeperServers returns the "host:port" addresses of the ZooKeeper ensemble.
func ZooKeeperServers(t testing.TB) []string {
	t.Helper()
	return splitList(endpoint(t, "zookeeper", ZooKeeperServersVar, &zkContainer))
}

// ZooKeeper returns a new session (a new connection) to ZooKeeper, connected and
// holding a session, closed when the test ends. Znodes are shared with other tests:
// put them under "/"+Prefix(t), or use ZooKeeperRoot.
func ZooKeeper(t testing.TB) *zk.Conn {
	t.Helper()
	return dialZooKeeper(t, ZooKeeperServers(t))
}

// dialZooKeeper opens a session on servers and waits until it is established.
func dialZooKeeper(t testing.TB, servers []string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(servers, ZooKeeperSessionTimeout, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatalf("testenv: ZooKeeper %v (%s): %v", servers, ZooKeeperServersVar, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go drain(events)
				return conn
			}
		case <-deadline:
			t.Fatalf("testenv: ZooKeeper %v (%s): no session after 30 s", servers, ZooKeeperServersVar)
		}
	}
}

// drain consumes a session's events until the session is closed.
func drain(events <-chan zk.Event) {
	for range events {
	}
}

// ZooKeeperRoot creates the persistent znode "/"+Prefix(t) for the test and deletes
// it, with everything under it, when the test ends. It returns its path.
func ZooKeeperRoot(t testing.TB) string {
	t.Helper()
	return memo(t, "zkroot", func() string {
		conn := ZooKeeper(t)
		root := "/" + Prefix(t)
		if _, err := conn.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("testenv: ZooKeeper: create %s: %v", root, err)
		}
		t.Cleanup(func() {
			if err := deleteTree(conn, root); err != nil {
				t.Errorf("testenv: ZooKeeper: delete %s: %v", root, err)
			}
		})
		return root
	})
}

// deleteTree deletes p and every znode under it.
func deleteTree(conn *zk.Conn, p string) error {
	children, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := deleteTree(conn, path.Join(p, c)); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// quiet is a zk.Logger that drops the library's connection chatter.
type quiet struct{}

func (quiet) Printf(string, ...any) {}
