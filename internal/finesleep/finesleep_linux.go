package finesleep

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// timerFile is a non-blocking timerfd the runtime's poller watches. fd is
// f's descriptor, kept from its creation rather than asked of f.Fd, whose
// documentation warns that it may turn off f's deadlines (cancellation
// relies on them).
type timerFile struct {
	f  *os.File
	fd int
}

// timers keeps idle timerfds for reuse.
var timers = sync.Pool{New: func() any {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &timerFile{f: os.NewFile(uintptr(fd), "finesleep-timerfd"), fd: fd}
}}

// fineSleep waits for d on a timerfd; false when none could be had (the
// caller falls back to a time.Timer).
func fineSleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true // a zero ItimerSpec would disarm the timer, not fire it
	}
	t, _ := timers.Get().(*timerFile)
	if t == nil {
		return false
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		t.close()
		return false
	}
	stop := context.AfterFunc(ctx, func() { _ = t.f.SetReadDeadline(time.Unix(1, 0)) })
	var buf [8]byte
	_, err := t.f.Read(buf[:])
	if !stop() || err != nil {
		// Cancelled (the read deadline is set) or broken: not reused.
		t.close()
		return errors.Is(err, os.ErrDeadlineExceeded) || err == nil
	}
	timers.Put(t)
	return true
}

func (t *timerFile) close() { _ = t.f.Close() }
