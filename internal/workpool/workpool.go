// Package workpool runs tasks on goroutines that outlive one task. Adapters
// whose clients take no context (go-zookeeper) or that fan a call out to
// several servers (Redlock) start a goroutine per request; a new goroutine
// grows its stack through the client library every time, which costs more
// than the request itself on a loopback server. A pool's workers keep their
// stacks between tasks.
package workpool

import (
	"sync"
	"time"
)

// Pool runs tasks on idle workers, starting new ones as tasks need them. A
// worker exits once it has been idle for the pool's idle time, or when the
// pool closes. The zero Pool is not usable; call New.
type Pool struct {
	idle    time.Duration
	tasks   chan func() // unbuffered: a send succeeds only to an idle worker
	closing chan struct{}
	workers sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// New returns a Pool whose workers exit after idle without a task.
func New(idle time.Duration) *Pool {
	return &Pool{idle: idle, tasks: make(chan func()), closing: make(chan struct{})}
}

// Go runs task on an idle worker, or on a new one. After Close, it runs task
// on a goroutine of its own.
func (p *Pool) Go(task func()) {
	select {
	case p.tasks <- task:
		return
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go task()
		return
	}
	p.workers.Add(1)
	p.mu.Unlock()
	go p.work(task)
}

func (p *Pool) work(task func()) {
	defer p.workers.Done()
	idle := time.NewTimer(p.idle)
	defer idle.Stop()
	for {
		task()
		idle.Reset(p.idle)
		select {
		case task = <-p.tasks:
		case <-idle.C:
			return
		case <-p.closing:
			return
		}
	}
}

// Close stops the idle workers and waits for the busy ones to finish their
// task. Tasks given to Go afterwards run on goroutines of their own.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.closing)
	}
	p.mu.Unlock()
	p.workers.Wait()
}
