package main

import (
	"context"
	"database/sql"
	"errors"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/racefree/racefree/cas/sqlcas"
	"github.com/racefree/racefree/caslock"
	"github.com/racefree/racefree/sqldialect"
	"github.com/racefree/racefree/sqllock"
)

const (
	pgLeaseTable = "lockbench_leases"
	pgCASTable   = "lockbench_cas"
)

func postgresSpecs() []spec {
	return []spec{
		{name: "racefree/pg-advisory", backend: "postgres", kind: kindRacefree,
			note: "sqllock.AdvisoryLocker: pg_advisory_lock on a connection per lease", open: openRacefreeAdvisory},
		{name: "racefree/pg-lease", backend: "postgres", kind: kindRacefree, fencing: true,
			note: "sqllock.LeaseLocker: lease table, sequence tokens, LISTEN/NOTIFY", open: openRacefreeLease},
		{name: "racefree/caslock-pg", backend: "postgres", kind: kindRacefree, fencing: true,
			note: "caslock on sqlcas (PostgreSQL): lease item with a FIFO queue, hand-over to the head, polls by queue position", open: openRacefreeCASLock},
		{name: "pgx/advisory", backend: "postgres", kind: kindPeer,
			note: "pgx.Conn: SELECT pg_advisory_lock($1) / pg_advisory_unlock($1)", open: openPgxAdvisory},
	}
}

func openPool(e *env) (*sql.DB, error) { return sql.Open("pgx", e.postgresDSN) }

func openRacefreeAdvisory(_ context.Context, e *env, key string) (mutex, error) {
	db, err := openPool(e)
	if err != nil {
		return nil, err
	}
	l, err := sqllock.NewAdvisoryLocker(db, sqldialect.Postgres, sqllock.AdvisoryConfig{})
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &leaseMutex{locker: l, key: key, closer: db.Close}, nil
}

func openRacefreeLease(ctx context.Context, e *env, key string) (mutex, error) {
	db, err := openPool(e)
	if err != nil {
		return nil, err
	}
	l, err := sqllock.NewLeaseLocker(db, sqldialect.Postgres, sqllock.LeaseConfig{Table: pgLeaseTable})
	if err == nil {
		err = e.once(ctx, "pg:"+pgLeaseTable, l.EnsureSchema)
	}
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &leaseMutex{locker: l, key: key, closer: db.Close}, nil
}

func openRacefreeCASLock(ctx context.Context, e *env, key string) (mutex, error) {
	db, err := openPool(e)
	if err != nil {
		return nil, err
	}
	store, err := sqlcas.New(db, sqldialect.Postgres, sqlcas.WithTable(pgCASTable))
	if err == nil {
		err = e.once(ctx, "pg:"+pgCASTable, store.EnsureSchema)
	}
	var l *caslock.Locker
	if err == nil {
		l, err = caslock.New(store)
	}
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &leaseMutex{locker: l, key: key, closer: db.Close}, nil
}

// pgxAdvisory is a contender that uses session advisory locks directly on
// its own pgx connection, as most Go code does.
type pgxAdvisory struct {
	conn *pgx.Conn
	id   int64
}

func openPgxAdvisory(ctx context.Context, e *env, key string) (mutex, error) {
	conn, err := pgx.Connect(ctx, e.postgresDSN)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return &pgxAdvisory{conn: conn, id: int64(h.Sum64())}, nil
}

func (p *pgxAdvisory) Lock(ctx context.Context) (uint64, error) {
	_, err := p.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", p.id)
	return 0, err
}

func (p *pgxAdvisory) Unlock(ctx context.Context) error {
	var ok bool
	if err := p.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", p.id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("pgx/advisory: pg_advisory_unlock returned false")
	}
	return nil
}

func (p *pgxAdvisory) Close() error { return p.conn.Close(context.Background()) }
