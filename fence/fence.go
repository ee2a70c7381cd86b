package fence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

var (
	// ErrStaleToken means the write carried a token lower than the highest
	// the resource has seen: a newer lock holder has written. Nothing was
	// written. The error is a *StaleError.
	ErrStaleToken = errors.New("fence: stale fencing token")

	// ErrNotFound means the guarded resource (a row) does not exist.
	ErrNotFound = errors.New("fence: resource not found")

	// ErrWriteSkipped means that Row.Update found the row at a fence its
	// token passes 8 rounds in a row, yet the database wrote
	// nothing: a trigger (on PostgreSQL a BEFORE UPDATE trigger returning
	// NULL, or suppress_redundant_updates_trigger with an identical row), a
	// rule or a row-level security policy may skip the write. A concurrent
	// write cannot explain it: the next round would have decided. Nothing
	// was written.
	ErrWriteSkipped = errors.New("fence: the row qualified but the database wrote nothing")

	// ErrTokenRange rejects a token that the store cannot keep.
	ErrTokenRange = errors.New("fence: token out of range")
)

// StaleError reports a write refused by a fence.
type StaleError struct {
	// Resource names what was written.
	Resource string
	// Token is the token the write carried.
	Token uint64
	// Fence is the highest token the resource had seen, when the guard knows
	// it; zero otherwise.
	Fence uint64
}

// Error describes the refusal.
func (e *StaleError) Error() string {
	if e.Fence == 0 {
		return fmt.Sprintf("fence: stale fencing token %d for %s: a newer holder has written", e.Token, e.Resource)
	}
	return fmt.Sprintf("fence: stale fencing token %d for %s: it has seen token %d", e.Token, e.Resource, e.Fence)
}

// Is makes errors.Is(err, ErrStaleToken) hold.
func (e *StaleError) Is(target error) bool { return target == ErrStaleToken }

// Querier runs statements: a *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tokenParam checks that token fits a bigint column.
func tokenParam(token uint64) (int64, error) {
	if token > math.MaxInt64 {
		return 0, fmt.Errorf("%w: token %d exceeds the signed 64-bit column", ErrTokenRange, token)
	}
	return int64(token), nil
}

// stale builds the refusal of token for resource by a fence.
func stale(resource string, token uint64, fence int64) error {
	return &StaleError{Resource: resource, Token: token, Fence: uint64(max(fence, 0))}
}
