package main

import (
	"errors"
	"sync"

	"github.com/racefree/racefree/examples/internal/workload"
)

// errStaleToken is the seat map refusing a writer whose fencing token is
// older than one it has already seen: that writer's hold was given away.
var errStaleToken = errors.New("stale fencing token: the hold was given to someone else")

// errSeatSold is a passenger told the seat is not theirs.
var errSeatSold = errors.New("seat sold to someone else")

// seatMap is the flight's seats, a fenced resource: every access made under a
// hold carries the hold's fencing token, and the map refuses tokens older
// than the newest it has seen. It also remembers which seats were already
// visited, to make the first payer of the stalled seats hang.
type seatMap struct {
	sold *workload.Claims // seat -> every passenger told "confirmed"

	mu      sync.Mutex     // makes each fence check atomic with its access
	fence   map[int]uint64 // seat -> newest token seen
	visited map[int]bool
}

func newSeatMap() *seatMap {
	return &seatMap{sold: workload.NewClaims(), fence: make(map[int]uint64), visited: make(map[int]bool)}
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
	return m.sold.Free(seat), nil
}

// confirm sells seat to passenger, for a holder with token (0 for none).
func (m *seatMap) confirm(seat, passenger int, token uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fenceLocked(seat, token); err != nil {
		return err
	}
	m.sold.Claim(seat, passenger)
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
