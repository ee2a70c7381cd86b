// Package testenv hands racefree's tests real servers, isolated per test.
//
// Each backend is resolved in this order:
//
//  1. the endpoint in the backend's RACEFREE_* environment variable, as printed by
//     `scripts/services.sh env` (make test sets them);
//  2. else a container started with testcontainers-go when a Docker engine answers,
//     once per test binary and shared by all its tests;
//  3. else the test is skipped with a message naming the variable to set, unless
//     RACEFREE_REQUIRE names the backend (a comma list of redis, postgres, mysql,
//     zookeeper, etcd, mongo, dynamodb) or is "all": then the test fails.
//
// Every client is new on each call, so a test can play several independent
// processes, and is closed when the test ends. Databases, schemas and key prefixes
// are unique per test (not per call), so the clients of one test meet on the same
// data and never on another test's.
//
// All endpoints are on the loopback interface.
package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireVar is the environment variable that turns a missing backend from a skip
// into a failure: a comma list of backend names, or "all".
const RequireVar = "RACEFREE_REQUIRE"

// setupTimeout bounds every set-up or clean-up step testenv performs.
const setupTimeout = 2 * time.Minute

// required reports whether RACEFREE_REQUIRE names backend.
func required(backend string) bool {
	for _, b := range strings.Split(os.Getenv(RequireVar), ",") {
		if b = strings.TrimSpace(b); b == "all" || b == backend {
			return true
		}
	}
	return false
}

// unavailable skips t, or fails it when the backend is required.
func unavailable(t testing.TB, backend, envVar string, why error) {
	t.Helper()
	msg := fmt.Sprintf("testenv: no %s server: set %s (`scripts/services.sh up` starts one, "+
		"`scripts/services.sh env` prints it) or run a Docker engine: %v", backend, envVar, why)
	if required(backend) {
		t.Fatalf("%s [%s=%s]", msg, RequireVar, os.Getenv(RequireVar))
	}
	t.Skip(msg)
}

// endpoint returns the value of envVar, else the endpoint of the shared container c,
// else skips or fails t.
func endpoint(t testing.TB, backend, envVar string, c *shared) string {
	t.Helper()
	if v := strings.TrimSpace(os.Getenv(envVar)); v != "" {
		return v
	}
	ep, err := c.get()
	if err != nil {
		unavailable(t, backend, envVar, err)
	}
	return ep
}

// splitList splits a comma separated list, dropping empty elements.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// setupContext is the context of a set-up or clean-up step; it outlives t.Context,
// which is cancelled before clean-up functions run.
func setupContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	t.Cleanup(cancel)
	return ctx
}

const prefixAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

var (
	memoMu sync.Mutex
	memos  = map[testing.TB]map[string]*memoEntry{}
)

// memoEntry is one value of one test, made once.
type memoEntry struct {
	once sync.Once
	v    string
}

// memo returns the value stored for (t, key), making it with mk on the first call.
func memo(t testing.TB, key string, mk func() string) string {
	t.Helper()
	memoMu.Lock()
	m, ok := memos[t]
	if !ok {
		m = map[string]*memoEntry{}
		memos[t] = m
		t.Cleanup(func() {
			memoMu.Lock()
			delete(memos, t)
			memoMu.Unlock()
		})
	}
	e, ok := m[key]
	if !ok {
		e = &memoEntry{}
		m[key] = e
	}
	memoMu.Unlock()
	e.once.Do(func() { e.v = mk() })
	return e.v
}

// Prefix returns a name unique to the test and to this run: "t" and 10 random
// lowercase letters or digits. The same test gets the same prefix on every call.
// It is safe as a key prefix, a ZooKeeper path element, and part of an SQL
// identifier or a table name.
func Prefix(t testing.TB) string {
	t.Helper()
	return memo(t, "prefix", func() string {
		b := make([]byte, 10)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		for i := range b {
			b[i] = prefixAlphabet[int(b[i])%len(prefixAlphabet)]
		}
		return "t" + string(b)
	})
}
