package redlock

import (
	"context"
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testenv"
)

// An attempt whose answer was lost is sent again by go-redis with the same
// owner token: the key it took is granted to it again (a new, greater
// fencing token), not taken for another owner's and left until its TTL. A
// different token is refused.
func TestRetriedAttemptIsGrantedItsOwnKey(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ttl := milliseconds(10 * time.Second)
	for _, tc := range []struct {
		name string
		run  func(n names, token string) (int64, error)
	}{
		{"single", func(n names, token string) (int64, error) {
			return takeScript.Run(ctx, rdb, []string{n.lock, n.fence}, token, ttl).Int64()
		}},
		{"quorum node", func(n names, token string) (int64, error) {
			return quorumAcquireScript.Run(ctx, rdb, []string{n.lock, n.fence, n.wqueue, n.wdeadline},
				token, ttl, "", 0, 0, wakePrefix).Int64()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := namesOf(testenv.Prefix(t))
			token := newToken()
			first, err := tc.run(n, token)
			if err != nil {
				t.Fatalf("first attempt: %v", err)
			}
			again, err := tc.run(n, token)
			if err != nil {
				t.Fatalf("the same attempt sent again: %v, want it granted", err)
			}
			if again <= first {
				t.Fatalf("fencing token %d after %d, want it greater", again, first)
			}
			if _, err := tc.run(n, newToken()); err == nil {
				t.Fatal("another owner's attempt on the held key was granted")
			}
		})
	}
}
