package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/sqllock"
)

// sqlBank keeps the balances in a database table. Protected, a transfer is a
// transaction that first locks both account rows with SELECT ... FOR UPDATE
// in id order (sqllock.LockIDs), and that sqllock.WithTx runs again if the
// database still reports a deadlock; unprotected, it runs the same statements
// without a transaction or a lock.
type sqlBank struct {
	cfg       config
	b         *backend.Backends
	protected bool
	table     backend.Table
}

func newSQLBank(cfg config, b *backend.Backends, protected bool) func() bank {
	return func() bank { return &sqlBank{cfg: cfg, b: b, protected: protected} }
}

func (s *sqlBank) open(ctx context.Context) (err error) {
	s.table, err = s.b.NewTable(ctx, "racefree_banking", s.cfg.accounts, s.cfg.balance)
	return err
}

func (s *sqlBank) close(ctx context.Context) error { return s.table.Drop(ctx) }

func (s *sqlBank) balances(ctx context.Context) ([]int, error) { return s.table.All(ctx) }

func (s *sqlBank) transfer(ctx context.Context, from, to, amount int, rec *workload.Recorder) error {
	t := s.table
	if !s.protected {
		return s.move(ctx, t.DB, from, to, amount)
	}
	asked, attempts := time.Now(), 0
	err := sqllock.WithTx(ctx, t.DB, nil, func(tx *sql.Tx) error {
		if attempts++; attempts > 1 {
			rec.Retries(1) // the database broke a deadlock by failing this transaction
		}
		if _, err := sqllock.LockIDs(ctx, tx, sqllock.RowLock{Dialect: t.Dialect}, t.Name, "id", from, to); err != nil {
			return err
		}
		rec.Since(asked)
		return s.move(ctx, tx, from, to, amount)
	})
	return err
}

// move is memoryBank.move in SQL: check the payer, credit the payee by
// reading and writing back its balance, debit the payer in one statement,
// pausing before each write.
func (s *sqlBank) move(ctx context.Context, q backend.Querier, from, to, amount int) error {
	t := s.table
	have, err := t.Get(ctx, q, from)
	if err != nil {
		return err
	}
	if have < amount {
		return errInsufficientFunds
	}
	payee, err := t.Get(ctx, q, to)
	if err != nil {
		return err
	}
	time.Sleep(s.cfg.think / 2)
	if err := t.Set(ctx, q, to, payee+amount); err != nil {
		return err
	}
	time.Sleep(s.cfg.think / 2)
	_, err = q.ExecContext(ctx, t.Q("UPDATE {t} SET n = n - ? WHERE id = ?"), amount, from)
	return err
}
