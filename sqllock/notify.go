package sqllock

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/racefree/racefree/internal/finesleep"
)

// listener is the LISTEN side of a PostgreSQL LeaseLocker: one connection
// of its own, outside the Locker's pool (see connect), open while at least
// one Acquire waits and closed once none has waited for listenLinger, shared
// by all waiters of the Locker. It listens on a channel of its own (wakeChannelPrefix and a
// random id), which its waiters' queue rows name; a release notifies the
// ticket of the head of its key's queue on the head's channel, and the
// listener wakes the waiter holding that ticket: one release wakes one
// waiter, and one client process hears of it. (A channel per lease table, as
// before, sent every release to every Locker with a waiter.)
type listener struct {
	db      *sql.DB
	channel string

	mu      sync.Mutex
	waiters map[int64]chan struct{} // by ticket
	session *listenSession          // running while waiters wait, and a linger after
	idle    *time.Timer             // stops session after the linger
}

// listenLinger is how long a listener goes on listening after its last
// waiter left: a process that takes a key again and again does not open a
// connection per wait.
const listenLinger = 200 * time.Millisecond

// listenSession is one run of the listening goroutine.
type listenSession struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// wakeChannelPrefix starts the name of every Locker's wake channel.
const wakeChannelPrefix = "racefree_wake_"

func newListener(db *sql.DB) *listener {
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	return &listener{db: db, channel: wakeChannelPrefix + hex.EncodeToString(id[:]), waiters: make(map[int64]chan struct{})}
}

// channelName is the NOTIFY channel of a lease table: its name, unquoted.
func channelName(table string) string {
	return strings.NewReplacer(`"`, "", "`", "").Replace(table)
}

// subscribe registers the waiter of ticket; it returns once the connection
// listens.
func (l *listener) subscribe(ctx context.Context, ticket int64) (<-chan struct{}, func(), error) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idle != nil {
		l.idle.Stop()
		l.idle = nil
	}
	if l.session == nil {
		s, err := l.start(ctx)
		if err != nil {
			return nil, nil, err
		}
		l.session = s
	}
	l.waiters[ticket] = ch
	var once sync.Once
	return ch, func() { once.Do(func() { l.unsubscribe(ticket) }) }, nil
}

func (l *listener) unsubscribe(ticket int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.waiters, ticket)
	if len(l.waiters) == 0 && l.session != nil && l.idle == nil {
		s := l.session
		l.idle = time.AfterFunc(listenLinger, func() { l.stopIdle(s) })
	}
}

// stopIdle stops s if it still runs and nobody waits.
func (l *listener) stopIdle(s *listenSession) {
	l.mu.Lock()
	if l.session != s || len(l.waiters) > 0 {
		l.mu.Unlock()
		return
	}
	l.session, l.idle = nil, nil
	l.mu.Unlock()
	s.cancel()
	<-s.done
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
		if finesleep.Sleep(ctx, pause) != nil {
			return
		}
		pause = min(2*pause, time.Second)
	}
}

// listen opens a connection of its own, LISTENs on it and dispatches
// notifications until ctx ends or the connection fails, then closes it.
func (l *listener) listen(ctx context.Context, ready chan<- error) (listened bool, err error) {
	report := func(err error) {
		listened = err == nil
		if ready != nil {
			ready <- err
		}
	}
	pc, err := l.connect(ctx)
	if err != nil {
		report(err)
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = pc.Close(closeCtx)
	}()
	listenErr := l.dispatch(ctx, pc, report)
	if ctx.Err() != nil {
		return listened, nil
	}
	return listened, listenErr
}

// connect opens the listening connection outside the pool, so that it never
// takes a connection the pool's other users wait for (a pool of one
// connection would otherwise starve while anyone waits: the holder's
// Release, the waiters' own attempts). database/sql does not tell how its
// pool connects, so connect borrows a connection of the pool for the moment
// it takes to copy its pgx settings (no I/O), gives it back, and dials a
// new connection with them: same server, database, user, credentials, TLS
// and dialer, as that connection had them when it was opened. The pool's
// connect hooks (stdlib.OptionBeforeConnect, OptionAfterConnect) do not run
// again: credentials that such a hook rotates may have expired since, and
// the dial then fails; the waiters then poll (see WaitGrant).
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var cfg *pgx.ConnConfig
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(pgxConner)
		if !ok {
			return fmt.Errorf("%w: LISTEN needs the pgx driver, not %T", ErrInvalidArgument, dc)
		}
		cfg = sc.Conn().Config()
		return nil
	})
	_ = conn.Close() // back to the pool
	if err != nil {
		return nil, err
	}
	// The pool connection's notification handler; pgx installs the one
	// WaitForNotification reads.
	cfg.OnNotification = nil
	return listenDial(ctx, cfg)
}

// listenDial opens the listening connection; tests replace it.
var listenDial = pgx.ConnectConfig

// pgxConner is a database/sql driver connection of pgx: *stdlib.Conn, or a
// wrapper around it.
type pgxConner interface{ Conn() *pgx.Conn }

var _ pgxConner = (*stdlib.Conn)(nil)

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

// wakeOne wakes the waiter of the ticket in payload, if it is ours.
func (l *listener) wakeOne(payload string) {
	ticket, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.waiters[ticket]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (l *listener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
