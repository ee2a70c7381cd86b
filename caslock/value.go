package caslock

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// leaseValue is the value of a lease item: the holder's fields, which only
// the holder's writes change (Owner, TTL, Epoch, Reserved, Written), and the
// queue of waiters, which waiters append to and leave.
type leaseValue struct {
	// Life is random per creation of the item, and kept by every write until
	// it is deleted: it tells the item's lives apart, in whose marks the
	// same owner and epoch may come again (see mark).
	Life string `json:"life,omitempty"`
	// Owner is random per grant (or per waiting Acquire, whose grant it
	// becomes): it names the grant whatever the version.
	Owner string `json:"owner"`
	// TTL is the lease period the holder promised to refresh within, in
	// nanoseconds; for a reserved item, the TTL its waiter asked for.
	TTL int64 `json:"ttl_ns"`
	// Epoch counts the holder's writes: creates, refreshes, claims,
	// hand-overs and take-overs bump it; waiters' queue writes do not. Zero
	// in the items of caslock versions that had no queue.
	Epoch uint64 `json:"epoch,omitempty"`
	// Reserved says the item was handed to the waiter named in Owner, who
	// has not claimed it yet.
	Reserved bool `json:"reserved,omitempty"`
	// Queue holds the waiters in arrival order.
	Queue []queued `json:"queue,omitempty"`
	// Written is the wall clock of the holder's last write, for people
	// reading the store; no client relies on it.
	Written time.Time `json:"written"`
}

// queued is one waiter of a lease item's queue.
type queued struct {
	// ID is the waiter's id: the Owner of the grant it will get.
	ID string `json:"id"`
	// TTL is the lease TTL the waiter asked for, in nanoseconds.
	TTL int64 `json:"ttl"`
}

// newOwner is a random id of 96 bits, in 16 characters: it is written once
// per waiter in the queue, which every join and leave rewrites.
func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (v leaseValue) encode() []byte {
	b, _ := json.Marshal(v) // cannot fail: strings, numbers, a time
	return b
}

func decodeLease(b []byte) (leaseValue, error) {
	var v leaseValue
	if err := json.Unmarshal(b, &v); err != nil {
		return leaseValue{}, fmt.Errorf("caslock: the item is not a lease: %w", err)
	}
	if v.Owner == "" || v.TTL <= 0 {
		return leaseValue{}, fmt.Errorf("caslock: the item is not a lease: owner %q, TTL %d", v.Owner, v.TTL)
	}
	for _, q := range v.Queue {
		if q.ID == "" || q.TTL <= 0 {
			return leaseValue{}, fmt.Errorf("caslock: the item is not a lease: queued waiter %q with TTL %d", q.ID, q.TTL)
		}
	}
	return v, nil
}

// newLease is the value of a created lease item.
func newLease(owner string, ttl time.Duration) leaseValue {
	return leaseValue{Life: newOwner(), Owner: owner, TTL: int64(ttl), Epoch: 1, Written: time.Now().UTC()}
}

// ttl is the lease period of the item.
func (v leaseValue) ttl() time.Duration { return time.Duration(v.TTL) }

// position is id's place in the queue, from 1 at the head, or 0 when id is
// not queued.
func (v leaseValue) position(id string) int {
	return slices.IndexFunc(v.Queue, func(q queued) bool { return q.ID == id }) + 1
}

// without is the queue less id, in a new slice.
func (v leaseValue) without(id string) []queued {
	return slices.DeleteFunc(slices.Clone(v.Queue), func(q queued) bool { return q.ID == id })
}

// enqueued is v with id appended to the queue: a waiter's write, which
// leaves the holder's fields alone.
func (v leaseValue) enqueued(id string, ttl time.Duration) leaseValue {
	v.Queue = append(slices.Clone(v.Queue), queued{ID: id, TTL: int64(ttl)})
	return v
}

// left is v with id out of the queue: a waiter's write.
func (v leaseValue) left(id string) leaseValue {
	v.Queue = v.without(id)
	return v
}

// claimedBy is the item held by owner for ttl: a claim of a reservation or
// a take-over. owner leaves the queue.
func (v leaseValue) claimedBy(owner string, ttl time.Duration) leaseValue {
	return leaseValue{Life: v.life(), Owner: owner, TTL: int64(ttl), Epoch: v.Epoch + 1, Queue: v.without(owner), Written: time.Now().UTC()}
}

// life is v's Life, or a new one for an item written by a caslock version
// without lives: its holder's next write gives it one, so that its marks
// stop repeating from then on (see mark).
func (v leaseValue) life() string {
	if v.Life != "" {
		return v.Life
	}
	return newOwner()
}

// refreshed is the holder's item written again for ttl, with the queue as
// waiters left it.
func (v leaseValue) refreshed(ttl time.Duration) leaseValue {
	v.Life, v.TTL, v.Epoch, v.Reserved, v.Written = v.life(), int64(ttl), v.Epoch+1, false, time.Now().UTC()
	return v
}

// handedOver is the item reserved for the queue's head, which leaves the
// queue; ok is false when the queue is empty.
func (v leaseValue) handedOver() (next leaseValue, ok bool) {
	if len(v.Queue) == 0 {
		return leaseValue{}, false
	}
	head := v.Queue[0]
	return leaseValue{
		Life:     v.life(),
		Owner:    head.ID,
		TTL:      head.TTL,
		Epoch:    v.Epoch + 1,
		Reserved: true,
		Queue:    slices.Clone(v.Queue[1:]),
		Written:  time.Now().UTC(),
	}, true
}

// mark is what a waiter watches to tell whether the holder is alive: the
// holder's writes change it, waiters' queue writes do not.
//
// A mark must never come again once changed, or a Locker that saw it in an
// earlier life of the item would count the new holder's time from then and
// take its lease over at once. Owner and epoch alone do come again: epochs
// restart at 1 when the item is created again, and a waiter's id, the owner
// of the reservations made for it, stays the same for the whole wait, over
// lives of the item. life tells those apart: within one life every holder
// write bumps the epoch, so (life, owner, epoch) is unique per holder write.
// An item created by a caslock version without lives has none until its
// holder's next write (a refresh, a hand-over, a claim) gives it one.
type mark struct {
	life  string
	owner string
	epoch uint64
	// version is the item's version for items without an epoch (written by
	// caslock versions that had no queue, whose refreshes keep the owner
	// and bump only the version); zero otherwise.
	version uint64
}

func markOf(v leaseValue, version uint64) mark {
	m := mark{life: v.Life, owner: v.Owner, epoch: v.Epoch}
	if v.Epoch == 0 {
		m.version = version
	}
	return m
}
