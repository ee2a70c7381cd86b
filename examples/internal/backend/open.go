package backend

import (
	"context"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/lock"
)

// LockerKinds lists the -lock values.
func LockerKinds() []string { return []string{Memory} }

// StoreKinds lists the -store values.
func StoreKinds() []string { return []string{Memory} }

// openLocker opens a Locker of a kind listed by LockerKinds.
func openLocker(ctx context.Context, kind string, e endpoints) (lock.Locker, func(), error) {
	switch kind {
	default:
		return lock.NewMemory(), func() {}, nil
	}
}

// openStore opens a Store of a kind listed by StoreKinds.
func openStore(ctx context.Context, kind string, e endpoints) (cas.Store, func(), error) {
	switch kind {
	default:
		return cas.NewMemory(), func() {}, nil
	}
}
