package sqllock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
)

// pgLeaseBackend is the lease table on PostgreSQL with its waiter queue: a
// lock.Waiter that grants in ticket order (see WaitGrant).
type pgLeaseBackend struct {
	*leaseBackend
	queueTTL time.Duration // how long a waiter keeps its place unrenewed
	listener *listener     // LISTEN/NOTIFY; nil when polling only

	attemptSQLs [4]string // see attemptSQL
}

var (
	_ lock.Backend = (*pgLeaseBackend)(nil)
	_ lock.Waiter  = (*pgLeaseBackend)(nil)
)

// Properties: grants follow the queue, so PostgreSQL's Locker is FIFO.
func (b *pgLeaseBackend) Properties() lock.Properties {
	p := b.leaseBackend.Properties()
	p.FIFO = true
	return p
}

// TryGrant takes key if it is free and no live waiter is queued for it: a
// TryAcquire does not overtake the queue.
func (b *pgLeaseBackend) TryGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	g, _, err := b.attempt(ctx, key, ttl, 0, 0)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("%w: %q is held", lock.ErrNotAcquired, key)
	}
	return g, nil
}

// attempt is the one statement of a grant, and of a waiter's turn in the
// queue. It takes key if its lease row is missing or expired and no live
// waiter queued before ticket (any live waiter, for ticket 0) is waiting;
// the row lock of ON CONFLICT serializes contenders, the WHERE judges
// expiry by the server's clock, and the token is drawn from the sequence
// under that row lock, so it is greater than every earlier token of key.
//
// On success a queued caller leaves the queue in the same statement, and
// sweeps out the places of key that expired (waiters that died). On
// failure, when queue > 0, the caller is queued (a new ticket for ticket 0)
// or its place renewed, to expire queue from now; the returned ticket is
// then its place. A waiter whose place had expired and been swept comes back
// with its old ticket.
func (b *pgLeaseBackend) attempt(ctx context.Context, key string, ttl time.Duration, ticket int64, queue time.Duration) (*leaseGrant, int64, error) {
	var token, queued sql.NullInt64
	var ignored1 sql.NullInt64
	var ignored2 sql.NullFloat64
	var ignored3 sql.NullString
	var queueMicros int64
	if queue > 0 {
		queueMicros = micros(queue)
	}
	sent := time.Now()
	err := b.db.QueryRowContext(ctx, b.attemptSQL(ticket != 0, queue > 0), key, micros(ttl), ticket, queueMicros, b.wakeChannel()).
		Scan(&token, &queued, &ignored1, &ignored2, &ignored3)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil // the plain grant (no ticket, no queueing) found key taken
	}
	if err != nil {
		return nil, 0, Translate(err)
	}
	if token.Valid {
		return b.newGrant(key, uint64(token.Int64), sent, ttl), 0, nil
	}
	return nil, queued.Int64, nil
}

// attemptSQL is the statement of attempt, without the parts a caller with
// no ticket or no wish to queue does not need: $1 key, $2 TTL and $4 queue
// TTL in microseconds, $3 ticket, $5 the Locker's wake channel (NULL when
// polling only).
func (b *pgLeaseBackend) attemptSQL(ticketed, queue bool) string {
	i := 0
	if ticketed {
		i |= 1
	}
	if queue {
		i |= 2
	}
	return b.attemptSQLs[i]
}

// makeAttemptSQL writes the statements of attemptSQL.
func (b *pgLeaseBackend) makeAttemptSQL() {
	for i := range b.attemptSQLs {
		ticketed, queue := i&1 != 0, i&2 != 0
		if !ticketed && !queue {
			// TryGrant's, the uncontended path: no CTE; no row when taken.
			b.attemptSQLs[i] = `INSERT INTO ` + b.table + ` AS l (lock_key, token, expires_at)
SELECT $1, nextval('` + b.seq + `'), clock_timestamp() + $2::float8 * interval '1 microsecond'
WHERE NOT EXISTS (
	SELECT 1 FROM ` + b.waiters + ` w
	WHERE w.lock_key = $1 AND w.deadline > clock_timestamp())
ON CONFLICT (lock_key) DO UPDATE
SET token = nextval('` + b.seq + `'), expires_at = clock_timestamp() + $2::float8 * interval '1 microsecond'
WHERE l.expires_at <= clock_timestamp()
RETURNING token, NULL::bigint, $3::bigint, $4::float8, $5::text`
			continue
		}
		ahead := ""
		if ticketed {
			ahead = " AND w.ticket < $3::bigint"
		}
		q := `WITH granted AS (
	INSERT INTO ` + b.table + ` AS l (lock_key, token, expires_at)
	SELECT $1, nextval('` + b.seq + `'), clock_timestamp() + $2::float8 * interval '1 microsecond'
	WHERE NOT EXISTS (
		SELECT 1 FROM ` + b.waiters + ` w
		WHERE w.lock_key = $1 AND w.deadline > clock_timestamp()` + ahead + `)
	ON CONFLICT (lock_key) DO UPDATE
	SET token = nextval('` + b.seq + `'), expires_at = clock_timestamp() + $2::float8 * interval '1 microsecond'
	WHERE l.expires_at <= clock_timestamp()
	RETURNING token
)`
		if ticketed {
			q += `, dequeued AS (
	DELETE FROM ` + b.waiters + `
	WHERE lock_key = $1 AND (ticket = $3::bigint OR deadline <= clock_timestamp())
		AND EXISTS (SELECT 1 FROM granted)
)`
		}
		queued := "NULL::bigint"
		if queue {
			place := "$3::bigint"
			if !ticketed {
				place = "nextval('" + b.seq + "')"
			}
			q += `, queued AS (
	INSERT INTO ` + b.waiters + ` AS w (lock_key, ticket, deadline, listener)
	SELECT $1, ` + place + `, clock_timestamp() + $4::float8 * interval '1 microsecond', $5::text
	WHERE NOT EXISTS (SELECT 1 FROM granted)
	ON CONFLICT (lock_key, ticket) DO UPDATE SET deadline = EXCLUDED.deadline, listener = EXCLUDED.listener
	RETURNING ticket
)`
			queued = "(SELECT ticket FROM queued)"
		}
		// Unused parameters are still typed, so that every variant takes
		// the same five arguments.
		b.attemptSQLs[i] = q + `
SELECT (SELECT token FROM granted), ` + queued + `, $3::bigint, $4::float8, $5::text`
	}
}

// leave takes ticket out of key's queue, and if it was the live head and
// key is free, wakes the next live waiter, which may have been passed over
// by a release that woke this one.
func (b *pgLeaseBackend) leave(ctx context.Context, key string, ticket int64) error {
	_, err := b.db.ExecContext(ctx, `WITH gone AS (
	DELETE FROM `+b.waiters+` WHERE lock_key = $1 AND ticket = $2
)
SELECT pg_notify(COALESCE(h.listener, $3), h.ticket::text)
FROM (SELECT ticket, listener FROM `+b.waiters+`
	WHERE lock_key = $1 AND ticket > $2 AND deadline > clock_timestamp()
	ORDER BY ticket LIMIT 1) h
WHERE NOT EXISTS (SELECT 1 FROM `+b.waiters+`
		WHERE lock_key = $1 AND ticket < $2 AND deadline > clock_timestamp())
	AND EXISTS (SELECT 1 FROM `+b.table+` WHERE lock_key = $1 AND expires_at <= clock_timestamp())`,
		key, ticket, b.channel())
	return Translate(err)
}

func (g *leaseGrant) pgRefresh(ctx context.Context, ttl time.Duration) error {
	res, err := g.b.db.ExecContext(ctx, `UPDATE `+g.b.table+`
SET expires_at = clock_timestamp() + $3::float8 * interval '1 microsecond'
WHERE lock_key = $1 AND token = $2 AND expires_at > clock_timestamp()`, g.key, int64(g.token), micros(ttl))
	return g.oneRow(res, err)
}

// pgRelease ends the lease (the row stays, expired) and notifies the live
// head of key's queue, by its ticket, on its Locker's channel, in the same
// statement: one release wakes one waiter, and reaches one Locker.
func (g *leaseGrant) pgRelease(ctx context.Context) error {
	res, err := g.b.db.ExecContext(ctx, `WITH released AS (
	UPDATE `+g.b.table+` SET expires_at = '-infinity'
	WHERE lock_key = $1 AND token = $2 AND expires_at > clock_timestamp()
	RETURNING lock_key
)
SELECT (SELECT pg_notify(COALESCE(listener, $3), ticket::text) FROM `+g.b.waiters+`
	WHERE lock_key = $1 AND deadline > clock_timestamp()
	ORDER BY ticket LIMIT 1)
FROM released`, g.key, int64(g.token), channelName(g.b.table))
	return g.oneRow(res, err)
}

// oneRow turns the result of a token-checked statement into nil (the row was
// ours and live) or ErrNotHeld.
func (g *leaseGrant) oneRow(res sql.Result, err error) error {
	if err != nil {
		return Translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return g.notHeld()
	}
	return nil
}

// channel is the NOTIFY channel of the lease table, on which releases wake
// waiters queued without a channel of their own (by Lockers from before
// wake channels per Locker, which listen there).
func (b *pgLeaseBackend) channel() string { return channelName(b.table) }

// wakeChannel is the NOTIFY channel this Locker's waiters are woken on, or
// NULL when it polls only.
func (b *pgLeaseBackend) wakeChannel() sql.NullString {
	if b.listener == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: b.listener.channel, Valid: true}
}
