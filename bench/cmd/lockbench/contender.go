package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// mutex is one contender's handle on the benchmarked lock: its own client or
// connection, as another process would have.
type mutex interface {
	// Lock blocks until the lock is granted or ctx ends; token is the fencing
	// token where the contender has one (zero otherwise).
	Lock(ctx context.Context) (token uint64, err error)
	// Unlock releases the grant Lock returned.
	Unlock(ctx context.Context) error
	// Close releases the contender's clients.
	Close() error
}

// kind says what a contender is in the comparison.
type kind string

const (
	kindRacefree kind = "racefree"
	kindPeer     kind = "peer"
	kindFloor    kind = "floor"
)

// spec describes one lock implementation under test.
type spec struct {
	name    string // e.g. "racefree/redis"
	backend string // the servers it runs on; ratios compare within a backend
	kind    kind
	fencing bool // tokens must strictly increase across grants
	note    string
	// open returns a new contender on key with its own clients.
	open func(ctx context.Context, e *env, key string) (mutex, error)
}

// specs is every contender the program knows, in table order.
func specs() []spec {
	var all []spec
	all = append(all, redisSpecs()...)
	all = append(all, etcdSpecs()...)
	all = append(all, zkSpecs()...)
	all = append(all, postgresSpecs()...)
	return all
}

// selectSpecs keeps the specs whose name or backend contains one of the
// comma-separated filters (all when filter is empty).
func selectSpecs(all []spec, filter string) ([]spec, error) {
	if strings.TrimSpace(filter) == "" {
		return all, nil
	}
	words := strings.Split(filter, ",")
	var out []spec
	for _, s := range all {
		if slices.ContainsFunc(words, func(w string) bool {
			w = strings.TrimSpace(w)
			return w != "" && (strings.Contains(s.name, w) || s.backend == w)
		}) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-only %q matches no contender (see -list)", filter)
	}
	return out, nil
}
