package main

import (
	"context"
	"errors"

	"github.com/racefree/racefree/lock"
)

// leaseMutex is a contender on a racefree lock.Locker.
type leaseMutex struct {
	locker lock.Locker
	key    string
	lease  lock.Lease
	closer func() error
}

func (m *leaseMutex) Lock(ctx context.Context) (uint64, error) {
	lease, err := m.locker.Acquire(ctx, m.key)
	if err != nil {
		return 0, err
	}
	m.lease = lease
	return lease.Token(), nil
}

func (m *leaseMutex) Unlock(ctx context.Context) error {
	if m.lease == nil {
		return errors.New("unlock without a lease")
	}
	err := m.lease.Release(ctx)
	m.lease = nil
	return err
}

func (m *leaseMutex) Close() error {
	if m.closer == nil {
		return nil
	}
	return m.closer()
}
