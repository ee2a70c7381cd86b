package sqllock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// listener is the LISTEN side of a PostgreSQL LeaseLocker: one connection,
// taken from the pool while at least one Acquire waits and given back (closed)
// when none does, shared by all waiters of the Locker. Each notification
// (a released key) wakes one waiter of that key, the longest waiting one
// that has no wake-up pending, so a release does not start a herd.
type listener struct {
	db      *sql.DB
	channel string

	mu      sync.Mutex
	waiters map[string][]chan struct{} // per key, oldest first
	count   int                        // waiters of all keys
	session *listenSession             // running while count > 0
}

// listenSession is one run of the listening goroutine.
type listenSession struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newListener(db *sql.DB, table string) *listener {
	return &listener{db: db, channel: channelName(table), waiters: make(map[string][]chan struct{})}
}

// channelName is the NOTIFY channel of a lease table: its name, unquoted.
func channelName(table string) string {
	return strings.NewReplacer(`"`, "", "`", "").Replace(table)
}

// subscribe registers a waiter for key; it returns once the connection
// listens, so no release after it can be missed.
func (l *listener) subscribe(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.session == nil {
		s, err := l.start(ctx)
		if err != nil {
			return nil, nil, err
		}
		l.session = s
	}
	l.waiters[key] = append(l.waiters[key], ch)
	l.count++
	var once sync.Once
	return ch, func() { once.Do(func() { l.unsubscribe(key, ch) }) }, nil
}

func (l *listener) unsubscribe(key string, ch chan struct{}) {
	l.mu.Lock()
	list := l.waiters[key]
	for i, c := range list {
		if c == ch {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.waiters, key)
	} else {
		l.waiters[key] = list
	}
	l.count--
	var stop *listenSession
	if l.count == 0 {
		stop, l.session = l.session, nil
	}
	l.mu.Unlock()
	if stop != nil {
		stop.cancel()
		<-stop.done
	}
}

// start runs a listening goroutine and waits until it listens. l.mu is held.
func (l *listener) start(ctx context.Context) (*listenSession, error) {
	runCtx, cancel := context.WithCancel(context.Background())
	s := &listenSession{cancel: cancel, done: make(chan struct{})}
	ready := make(chan error, 1)
	go l.run(runCtx, s.done, ready)
	select {
	case err := <-ready:
		if err != nil {
			cancel()
			<-s.done
			return nil, fmt.Errorf("sqllock: listen on %q: %w", l.channel, err)
		}
		return s, nil
	case <-ctx.Done():
		cancel()
		<-s.done
		return nil, ctx.Err()
	}
}

// run listens until ctx ends, reconnecting after a connection failure (the
// waiters' backoff polls cover the gap). ready gets the first LISTEN's result.
func (l *listener) run(ctx context.Context, done chan<- struct{}, ready chan<- error) {
	defer close(done)
	pause := 10 * time.Millisecond
	for {
		listened, err := l.listen(ctx, ready)
		if ctx.Err() != nil || err == nil || (ready != nil && !listened) {
			return // stopped, or the first LISTEN failed: start reports it
		}
		ready = nil
		if listened {
			pause = 10 * time.Millisecond
		}
		l.wakeAll() // they poll while we reconnect
		if sleep(ctx, pause) != nil {
			return
		}
		pause = min(2*pause, time.Second)
	}
}

// listen takes a connection, LISTENs on it and dispatches notifications until
// ctx ends or the connection fails. The connection is always discarded, not
// returned to the pool, so no pooled session keeps listening.
func (l *listener) listen(ctx context.Context, ready chan<- error) (listened bool, err error) {
	report := func(err error) {
		listened = err == nil
		if ready != nil {
			ready <- err
		}
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		report(err)
		return false, err
	}
	defer conn.Close() //nolint:errcheck // discarded through driver.ErrBadConn
	var listenErr error
	_ = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			listenErr = fmt.Errorf("%w: LISTEN needs the pgx driver, not %T", ErrInvalidArgument, dc)
			report(listenErr)
			return driver.ErrBadConn
		}
		listenErr = l.dispatch(ctx, sc.Conn(), report)
		return driver.ErrBadConn
	})
	if ctx.Err() != nil {
		return listened, nil
	}
	return listened, listenErr
}

func (l *listener) dispatch(ctx context.Context, pc *pgx.Conn, report func(error)) error {
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		report(err)
		return err
	}
	report(nil)
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.wakeOne(n.Payload)
	}
}

// wakeOne wakes the longest waiting waiter of key that has no pending wake-up.
func (l *listener) wakeOne(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.waiters[key] {
		select {
		case ch <- struct{}{}:
			return
		default:
		}
	}
}

func (l *listener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, list := range l.waiters {
		for _, ch := range list {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
