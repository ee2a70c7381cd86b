package redlock

import (
	"math/rand/v2"
	"time"
)

// poller spaces a queued waiter's safety-net attempts: exponential from an
// eighth of max to max, each drawn from [½, 1] of its step so that waiters do
// not poll in step, and never longer than max (the waiter's deadline is
// 3 × max).
type poller struct {
	step, max time.Duration
}

func newPoller(max time.Duration) *poller {
	return &poller{step: max / 8, max: max}
}

func (p *poller) next() time.Duration {
	d := p.step/2 + rand.N(p.step-p.step/2+1)
	p.step = min(2*p.step, p.max)
	return d
}
