package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// env holds the server endpoints, from the RACEFREE_* variables that
// `scripts/services.sh env` prints.
type env struct {
	redisAddrs  []string
	etcd        []string
	zk          []string
	postgresDSN string

	onceMu sync.Mutex
	done   map[string]error // one-time setups (schemas, parent znodes)
}

func loadEnv() (*env, error) {
	split := func(v string) []string {
		var out []string
		for _, s := range strings.Split(os.Getenv(v), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	e := &env{
		redisAddrs:  split("RACEFREE_REDIS_ADDRS"),
		etcd:        split("RACEFREE_ETCD_ENDPOINTS"),
		zk:          split("RACEFREE_ZK_SERVERS"),
		postgresDSN: os.Getenv("RACEFREE_POSTGRES_DSN"),
		done:        map[string]error{},
	}
	return e, nil
}

// need reports a clear error when the endpoints of backend are missing.
func (e *env) need(backend string) error {
	missing := ""
	switch backend {
	case "redis":
		if len(e.redisAddrs) < 1 {
			missing = "RACEFREE_REDIS_ADDRS"
		}
	case "redis×5":
		if len(e.redisAddrs) < 5 {
			missing = "RACEFREE_REDIS_ADDRS (5 addresses)"
		}
	case "etcd":
		if len(e.etcd) == 0 {
			missing = "RACEFREE_ETCD_ENDPOINTS"
		}
	case "zookeeper":
		if len(e.zk) == 0 {
			missing = "RACEFREE_ZK_SERVERS"
		}
	case "postgres":
		if e.postgresDSN == "" {
			missing = "RACEFREE_POSTGRES_DSN"
		}
	}
	if missing != "" {
		return fmt.Errorf("%s is not set: run `make bench-compare`, or `scripts/services.sh up` and `eval \"$(scripts/services.sh env)\"` first", missing)
	}
	return nil
}

// dialTimeout bounds the reachability check of one server.
const dialTimeout = 2 * time.Second

// reachable dials every server backend needs, so that a server that is
// down stops the run at once with its address, instead of failing each cell
// of it after a client's timeout.
func (e *env) reachable(ctx context.Context, backend string) error {
	var addrs []string
	switch backend {
	case "redis":
		addrs = e.redisAddrs[:1]
	case "redis×5":
		addrs = e.redisAddrs[:5]
	case "etcd":
		for _, ep := range e.etcd {
			if u, err := url.Parse(ep); err == nil && u.Host != "" {
				ep = u.Host
			}
			addrs = append(addrs, ep)
		}
	case "zookeeper":
		addrs = e.zk
	case "postgres":
		if u, err := url.Parse(e.postgresDSN); err == nil && u.Host != "" {
			addrs = []string{u.Host}
		}
	}
	var d net.Dialer
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, err := d.DialContext(dctx, "tcp", a)
		cancel()
		if err != nil {
			return fmt.Errorf("%s server %s does not answer (%w): run `make bench-compare`, or `scripts/services.sh up` first", backend, a, err)
		}
		_ = c.Close()
	}
	return nil
}

// once runs setup the first time name is asked for and remembers its error.
func (e *env) once(ctx context.Context, name string, setup func(ctx context.Context) error) error {
	e.onceMu.Lock()
	defer e.onceMu.Unlock()
	if err, ok := e.done[name]; ok {
		return err
	}
	err := setup(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("setup %s", name), err)
	}
	e.done[name] = err
	return err
}
