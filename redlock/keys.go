package redlock

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/racefree/racefree/lock"
)

// MaxKeyLen is the longest lock key, in bytes, the Lockers of this package
// accept. Redis itself takes keys of any bytes up to 512 MB; locks have no use
// for keys that long, and every key is sent on every grant and refresh.
const MaxKeyLen = 1024

// names are the Redis names derived from one lock key. All of them carry the
// key as a Cluster hash tag, "{key}", so that the lock, its fencing counter
// and its waiter queue live in one slot and one script can touch them all.
type names struct {
	lock      string // the lock: value = owner token, PX = TTL
	fence     string // the fencing counter: INCR per grant, never expires
	queue     string // waiters' owner tokens, oldest first (single deployment)
	deadlines string // waiters' deadlines on the server's clock, token -> ms
	wqueue    string // Redlock node: waiters' ids by ticket (sorted set)
	wdeadline string // Redlock node: waiters' deadlines, id -> ms
}

func namesOf(key string) names {
	// One allocation for all six names: each is a slice of all.
	all := "{" + key + "}{" + key + "}:fence{" + key + "}:q{" + key + "}:qd{" + key + "}:wq{" + key + "}:wqd"
	tagLen := len(key) + 2
	var n names
	for _, f := range []struct {
		dst    *string
		suffix string
	}{
		{&n.lock, ""}, {&n.fence, ":fence"}, {&n.queue, ":q"}, {&n.deadlines, ":qd"},
		{&n.wqueue, ":wq"}, {&n.wdeadline, ":wqd"},
	} {
		end := tagLen + len(f.suffix)
		*f.dst, all = all[:end], all[end:]
	}
	return n
}

// validateKey rejects keys whose names would not share a hash tag: Redis
// takes the text between the first "{" and the next "}" as the tag, and an
// empty tag ("{}...") hashes the whole name instead.
func validateKey(key string) error {
	if strings.HasPrefix(key, "}") {
		return fmt.Errorf("%w: a Redis lock key must not begin with %q (its Cluster hash tag would be empty)", lock.ErrInvalidKey, "}")
	}
	return nil
}

// newToken returns a random 16-byte owner token, hex-encoded.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// milliseconds rounds ttl up to whole milliseconds for PX/PEXPIRE, so the
// server never expires a grant before the client's own reckoning.
func milliseconds(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}
