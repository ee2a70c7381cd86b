package caslock

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// leaseValue is the value of a lease item.
type leaseValue struct {
	// Owner is random per grant: it names the grant whatever the version.
	Owner string `json:"owner"`
	// TTL is the lease period the holder promised to refresh within, in
	// nanoseconds.
	TTL int64 `json:"ttl_ns"`
	// Written is the holder's wall clock at the write, for people reading
	// the store; no client relies on it.
	Written time.Time `json:"written"`
}

func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func encodeLease(owner string, ttl time.Duration) []byte {
	b, _ := json.Marshal(leaseValue{Owner: owner, TTL: int64(ttl), Written: time.Now().UTC()})
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
	return v, nil
}
