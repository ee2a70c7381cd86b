package sqllock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/racefree/racefree/lock"
)

// myGrantRetries bounds the retries of a grant that InnoDB chose as a
// deadlock victim (concurrent upserts of one key can deadlock on its index
// record); after them the grant counts as not acquired.
const myGrantRetries = 3

// myGrant takes key if its row is missing or expired, in one statement. The
// upsert holds the row's lock while it evaluates the ON DUPLICATE KEY UPDATE
// clause: the token is drawn from the sequence under that lock, and the
// assignments, evaluated left to right, both test the old expires_at. The
// winner is told by LAST_INSERT_ID, which the statement sets to the new
// token when it inserts or takes over the row, and to 0 when the row is
// someone else's live lease (affected-rows counts cannot tell, under
// CLIENT_FOUND_ROWS).
func (b *leaseBackend) myGrant(ctx context.Context, key string, ttl time.Duration) (lock.Grant, error) {
	q := `INSERT INTO ` + b.table + ` (lock_key, token, expires_at)
VALUES (?, LAST_INSERT_ID(NEXTVAL(` + b.seq + `)), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)
ON DUPLICATE KEY UPDATE
token = IF(expires_at <= UTC_TIMESTAMP(6), LAST_INSERT_ID(NEXTVAL(` + b.seq + `)), token + LAST_INSERT_ID(0)),
expires_at = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(expires_at), expires_at)`
	var err error
	for range myGrantRetries {
		sent := time.Now()
		res, execErr := b.db.ExecContext(ctx, q, key, micros(ttl))
		if err = Translate(execErr); err != nil {
			if errors.Is(err, ErrDeadlock) {
				continue
			}
			return nil, err
		}
		token, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		if token == 0 {
			return nil, fmt.Errorf("%w: %q is held", lock.ErrNotAcquired, key)
		}
		return b.newGrant(key, uint64(token), sent, ttl), nil
	}
	return nil, fmt.Errorf("%w: %q is contended: %w", lock.ErrNotAcquired, key, err)
}

func (g *leaseGrant) myRefresh(ctx context.Context, ttl time.Duration) error {
	res, err := g.b.db.ExecContext(ctx, `UPDATE `+g.b.table+`
SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
WHERE lock_key = ? AND token = ? AND expires_at > UTC_TIMESTAMP(6)`, micros(ttl), g.key, g.token)
	err = g.oneRow(res, err)
	if !errors.Is(err, lock.ErrNotHeld) {
		return err
	}
	// Zero rows changed: either the lease is gone, or the new expiry equals
	// the old one to the microsecond (the row matched but did not change).
	// A row that is ours and live now was live at the UPDATE too.
	var live bool
	if err := g.b.db.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM `+g.b.table+`
WHERE lock_key = ? AND token = ? AND expires_at > UTC_TIMESTAMP(6)`, g.key, g.token).Scan(&live); err != nil {
		return Translate(err)
	}
	if live {
		return nil
	}
	return g.notHeld()
}

func (g *leaseGrant) myRelease(ctx context.Context) error {
	res, err := g.b.db.ExecContext(ctx, `UPDATE `+g.b.table+` SET expires_at = '1970-01-01'
WHERE lock_key = ? AND token = ? AND expires_at > UTC_TIMESTAMP(6)`, g.key, g.token)
	return g.oneRow(res, err)
}
