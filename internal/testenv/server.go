package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a private throwaway server process of one test, for fault tests
// ("the server dies while a lease is held"). It is stopped when the test ends.
// Stop and Start must be called from the test's goroutine.
type Server struct {
	// Addr is where clients reach the server: "127.0.0.1:port" for Redis and
	// ZooKeeper, the client URL "http://127.0.0.1:port" for etcd.
	Addr string

	t     testing.TB
	name  string                          // for messages
	argv  func() []string                 // the command line of a start
	ready func(ctx context.Context) error // nil once the server answers
	log   string                          // its output, kept across restarts
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has exited
}

// Start starts the server again on the same address (Redis: with empty data;
// etcd and ZooKeeper: with the data they had). It does nothing while the server runs.
// It fails the test when the server does not answer within 30 s.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	argv := s.argv()
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("testenv: %s: %v", s.name, err)
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	tieToParent(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testenv: %s: start %s: %v", s.name, argv[0], err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.ready(ctx)
		if err == nil {
			return
		}
		select {
		case <-s.done:
			s.cmd = nil
			s.t.Fatalf("testenv: %s exited at start: %s", s.name, tail(s.log))
		case <-ctx.Done():
			s.Stop()
			s.t.Fatalf("testenv: %s does not answer on %s after 30 s: %v\n%s", s.name, s.Addr, err, tail(s.log))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits until it is gone. It does
// nothing when the server is not running.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Log returns the end of the server's output (all its starts), for failure messages.
func (s *Server) Log() string { return tail(s.log) }

// startServer starts a Server and stops it when the test ends.
func startServer(t testing.TB, s *Server) *Server {
	t.Helper()
	s.t = t
	s.log = filepath.Join(t.TempDir(), s.name+".log")
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// binary returns the path in envVar, else the command name found in PATH, else
// skips or fails the test under the backend's RACEFREE_REQUIRE rule.
func binary(t testing.TB, backend, envVar string, names ...string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	unavailable(t, backend, envVar, fmt.Errorf("no server binary %v found", names))
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// ask sends req to addr and returns the first bytes of the reply.
func ask(ctx context.Context, addr, req string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if n > 0 {
		err = nil
	}
	return string(buf[:n]), err
}

// expect returns a readiness check that asks addr req and wants a reply starting with want.
func expect(addr, req, want string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		got, err := ask(ctx, addr, req)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix([]byte(got), []byte(want)) {
			return fmt.Errorf("answered %q, want %q", got, want)
		}
		return nil
	}
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// StartRedisServer starts a private redis-server (RACEFREE_REDIS_SERVER_BIN, else
// redis-server from PATH) on a free loopback port, without persistence: a Start
// after a Stop comes back with empty data.
func StartRedisServer(t testing.TB) *Server {
	t.Helper()
	bin := binary(t, "redis", "RACEFREE_REDIS_SERVER_BIN", "redis-server")
	port := strconv.Itoa(freePort(t))
	dir := t.TempDir()
	addr := "127.0.0.1:" + port
	return startServer(t, &Server{
		Addr: addr, name: "redis-server " + addr,
		argv: func() []string {
			return []string{bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--dir", dir, "--daemonize", "no"}
		},
		ready: expect(addr, "PING\r\n", "+PONG"),
	})
}

// StartEtcdServer starts a private single-node etcd (RACEFREE_ETCD_BIN, else etcd
// from PATH) on free loopback ports, with its data in t.TempDir(): a Start after a
// Stop keeps the data. Addr is the client URL.
func StartEtcdServer(t testing.TB) *Server {
	t.Helper()
	bin := binary(t, "etcd", "RACEFREE_ETCD_BIN", "etcd")
	client := "127.0.0.1:" + strconv.Itoa(freePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	dir := t.TempDir()
	return startServer(t, &Server{
		Addr: "http://" + client, name: "etcd " + client,
		argv: func() []string {
			return []string{bin, "--name", "private", "--data-dir", dir,
				"--listen-client-urls", "http://" + client, "--advertise-client-urls", "http://" + client,
				"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
				"--initial-cluster", "private=" + peer}
		},
		ready: func(ctx context.Context) error {
			got, err := ask(ctx, client, "GET /health HTTP/1.0\r\n\r\n")
			if err == nil && !bytes.Contains([]byte(got), []byte(`"health":"true"`)) {
				err = fmt.Errorf("unhealthy: %q", got)
			}
			return err
		},
	})
}

// StartZooKeeperServer starts a private standalone ZooKeeper on a free loopback
// port, with its data in t.TempDir(): a Start after a Stop keeps the data (and the
// sessions that have not expired). It runs RACEFREE_ZK_SERVER_BIN (as written by
// scripts/services.sh: a program that takes the path of a zoo.cfg), else
// /var/tmp/racefree/bin/zk-server.
func StartZooKeeperServer(t testing.TB) *Server {
	t.Helper()
	bin := binary(t, "zookeeper", "RACEFREE_ZK_SERVER_BIN", "/var/tmp/racefree/bin/zk-server")
	port := strconv.Itoa(freePort(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=500\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n"+
		"dataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nforceSync=no\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,mntr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatalf("testenv: ZooKeeper: %v", err)
	}
	addr := "127.0.0.1:" + port
	return startServer(t, &Server{
		Addr: addr, name: "zookeeper " + addr,
		argv:  func() []string { return []string{bin, cfg} },
		ready: expect(addr, "srvr", "Zookeeper version"), // "ruok" says imok before it serves
	})
}
