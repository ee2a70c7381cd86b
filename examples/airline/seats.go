package main

import (
	"errors"
	"sync"
)

// errStaleToken is the seat map refusing a writer whose fencing token is
// older than one it has already seen: that writer's hold was given away.
var errStaleToken = errors.New("stale fencing token: the hold was given to someone else")

// seatMap is the flight's seats, a fenced resource: every access made under a
// hold carries the hold's fencing token, and the map refuses tokens older
// than the newest it has seen. It also remembers which seats were already
// visited, to make the first payer of the stalled seats hang.
type seatMap struct {
	mu      sync.Mutex
	sold    map[int][]int  // seat -> every passenger told "confirmed"
	fence   map[int]uint64 // seat -> newest token seen
	visited map[int]bool
}

func newSeatMap() *seatMap {
	return &seatMap{sold: make(map[int][]int), fence: make(map[int]uint64), visited: make(map[int]bool)}
}

// firstVisit reports whether this is the first payer to reach seat.
func (m *seatMap) firstVisit(seat int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := !m.visited[seat]
	m.visited[seat] = true
	return first
}

// available reports whether seat is unsold, for a holder with token (0 for
// none). A token older than the newest seen is refused; a newer one becomes
// the newest, so a holder superseded from now on cannot write.
func (m *seatMap) available(seat int, token uint64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fenceLocked(seat, token); err != nil {
		return false, err
	}
	return len(m.sold[seat]) == 0, nil
}

// confirm sells seat to passenger, for a holder with token (0 for none).
func (m *seatMap) confirm(seat, passenger int, token uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fenceLocked(seat, token); err != nil {
		return err
	}
	m.sold[seat] = append(m.sold[seat], passenger)
	return nil
}

func (m *seatMap) fenceLocked(seat int, token uint64) error {
	if token == 0 {
		return nil
	}
	if token < m.fence[seat] {
		return errStaleToken
	}
	m.fence[seat] = token
	return nil
}

// oversold counts the confirmations beyond the first of each seat.
func (m *seatMap) oversold() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.sold {
		n += len(p) - 1
	}
	return n
}
