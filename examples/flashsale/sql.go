package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/racefree/racefree/examples/internal/backend"
	"github.com/racefree/racefree/examples/internal/workload"
	"github.com/racefree/racefree/sqllock"
)

// sqlShop keeps the stock in a database table, one row per item. Protected,
// a checkout is a transaction that reads the row with SELECT ... FOR UPDATE
// (sqllock.RowLock), so the next checkout of the item waits for this one to
// commit; unprotected, it reads without a lock and writes the stock back.
type sqlShop struct {
	cfg       config
	b         *backend.Backends
	protected bool
	table     backend.Table
}

func newSQLShop(cfg config, b *backend.Backends, protected bool) func() shop {
	return func() shop { return &sqlShop{cfg: cfg, b: b, protected: protected} }
}

func (s *sqlShop) open(ctx context.Context) (err error) {
	s.table, err = s.b.NewTable(ctx, "racefree_flashsale", s.cfg.items, s.cfg.stock)
	return err
}

func (s *sqlShop) close(ctx context.Context) error { return s.table.Drop(ctx) }

func (s *sqlShop) left(ctx context.Context, item int) (int, error) {
	return s.table.Get(ctx, s.table.DB, item)
}

func (s *sqlShop) buy(ctx context.Context, item int, rec *workload.Recorder) error {
	t := s.table
	if !s.protected {
		return s.checkout(ctx, t.DB, item, func() (int, error) { return t.Get(ctx, t.DB, item) })
	}
	asked := time.Now()
	return sqllock.WithTx(ctx, t.DB, nil, func(tx *sql.Tx) error {
		return s.checkout(ctx, tx, item, func() (int, error) {
			var units int
			err := sqllock.RowLock{Dialect: t.Dialect}.Query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&units) },
				t.Q("SELECT n FROM {t} WHERE id = ?"), item)
			rec.Since(asked)
			return units, err
		})
	})
}

// checkout reads the stock with read, takes the time to check out and
// writes it back one lower with q.
func (s *sqlShop) checkout(ctx context.Context, q backend.Querier, item int, read func() (int, error)) error {
	units, err := read()
	switch {
	case err != nil:
		return err
	case units == 0:
		return errSoldOut
	}
	time.Sleep(s.cfg.checkout)
	return s.table.Set(ctx, q, item, units-1)
}
