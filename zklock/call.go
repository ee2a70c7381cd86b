package zklock

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/go-zookeeper/zk"

	"github.com/racefree/racefree/internal/workpool"
)

// call runs fn, a go-zookeeper request, which takes no context, on a worker
// of pool and returns its result, or ctx's error as soon as ctx ends. An
// abandoned request still runs to its end; abandoned, if not nil, then gets
// its result, so that the caller can undo what it did.
func call[T any](ctx context.Context, pool *workpool.Pool, fn func() (T, error), abandoned func(T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	pool.Go(func() {
		v, err := fn()
		done <- result{v, err}
	})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		if abandoned != nil {
			go func() {
				r := <-done
				abandoned(r.v, r.err)
			}()
		}
		return zero, ctx.Err()
	}
}

// ambiguous reports whether a request that failed with err may still have been
// carried out by the server: its connection broke after it was sent.
func ambiguous(err error) bool { return errors.Is(err, zk.ErrConnectionClosed) }

// disconnected reports whether a request failed because the connection is
// down for now, or closed: it may succeed once the client has reconnected.
// That includes a request whose write failed (a reset or closed connection,
// a write deadline): go-zookeeper hands it the write error, drops the
// connection and reconnects, and the server never carried it out.
func disconnected(err error) bool {
	var op *net.OpError
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &op) && op.Op == "write"
}

// zkErr adds the operation and the znode to an error of go-zookeeper, which
// errors.Is and errors.As still reach. Context errors are returned as they are.
func zkErr(op, path string, err error) error {
	if isContextErr(err) {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// isContextErr reports whether err is a context's error: a call abandoned.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
