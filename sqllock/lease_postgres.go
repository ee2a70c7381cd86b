package sqllock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
)

// pgGrant takes key if its row is missing or expired, in one statement: the
// row lock of ON CONFLICT serializes contenders, the WHERE judges expiry by
// the server's clock, and the new token is drawn from the sequence while
// that row lock is held, so it is greater than every earlier token of key.
func (b *leaseBackend) pgGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	q := `INSERT INTO ` + b.table + ` AS l (lock_key, token, expires_at)
VALUES ($1, nextval('` + b.seq + `'), clock_timestamp() + $2::float8 * interval '1 microsecond')
ON CONFLICT (lock_key) DO UPDATE
SET token = nextval('` + b.seq + `'), expires_at = clock_timestamp() + $2::float8 * interval '1 microsecond'
WHERE l.expires_at <= clock_timestamp()
RETURNING token`
	var token int64
	err := b.db.QueryRowContext(ctx, q, key, micros(ttl)).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q is held", lock.ErrNotAcquired, key)
	}
	if err != nil {
		return nil, Translate(err)
	}
	return &leaseGrant{b: b, key: key, token: uint64(token)}, nil
}

func (g *leaseGrant) pgRefresh(ctx context.Context, ttl time.Duration) error {
	res, err := g.b.db.ExecContext(ctx, `UPDATE `+g.b.table+`
SET expires_at = clock_timestamp() + $3::float8 * interval '1 microsecond'
WHERE lock_key = $1 AND token = $2 AND expires_at > clock_timestamp()`, g.key, int64(g.token), micros(ttl))
	return g.oneRow(res, err)
}

// pgRelease ends the lease (the row stays, expired) and, in the same
// statement, notifies the Lockers listening for releases.
func (g *leaseGrant) pgRelease(ctx context.Context) error {
	res, err := g.b.db.ExecContext(ctx, `WITH released AS (
	UPDATE `+g.b.table+` SET expires_at = '-infinity'
	WHERE lock_key = $1 AND token = $2 AND expires_at > clock_timestamp()
	RETURNING lock_key
) SELECT pg_notify($3, lock_key) FROM released`, g.key, int64(g.token), g.b.channel())
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

// channel is the NOTIFY channel of the lease table.
func (b *leaseBackend) channel() string {
	if b.listener != nil {
		return b.listener.channel
	}
	return channelName(b.table)
}
