// Package locktest is the conformance suite every lock.Locker must pass
// unchanged. An adapter's test calls Run with a Harness that makes fresh,
// independent Lockers, as separate processes would have them:
//
//	func TestConformance(t *testing.T) {
//		locktest.Run(t, locktest.Harness{
//			NewLocker: func(t *testing.T) lock.Locker { return mylock.New(newClient(t)) },
//		})
//	}
//
// The suite reads the backend's declared lock.Properties and turns each missing
// property into an explicit t.Skip that names it.
package locktest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/racefree/racefree/lock"
)

// Harness tells the suite how to make Lockers of the backend under test.
type Harness struct {
	// NewLocker returns a new Locker with its own client or connection, as
	// another process would have. It is called many times per test; close what
	// it opens with t.Cleanup.
	NewLocker func(t *testing.T) lock.Locker

	// TTL is the lease TTL of the expiry cases. Zero picks 1 s, or the
	// backend's MinTTL if that is longer. It must leave room for a grant's
	// round trip on a loaded machine: a lease whose grant took longer than
	// the TTL less its safety margin is rightly reported lost at once.
	TTL time.Duration

	// Crash, if set, makes l's process die without releasing anything: it
	// closes l's session or connection. Backends whose grants live as long as a
	// session (LeaseTTL false) prove with it that a dead holder frees the key.
	Crash func(t *testing.T, l lock.Locker)
}

// Run runs every conformance case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewLocker == nil {
		t.Fatal("locktest: Harness.NewLocker is nil")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	s := &suite{h: h}
	s.props, s.ok = lock.PropertiesOf(h.NewLocker(t))
	if !s.ok {
		t.Fatal("locktest: the Locker does not expose Properties(); build it with lock.New")
	}
	s.ttl = h.TTL
	if s.ttl == 0 {
		s.ttl = max(time.Second, s.props.MinTTL)
	}

	for _, c := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"MutualExclusion", s.testMutualExclusion},
		{"TryAcquire", s.testTryAcquire},
		{"AcquireHonoursCancel", s.testAcquireHonoursCancel},
		{"AcquireHonoursDeadline", s.testAcquireHonoursDeadline},
		{"ReleaseFreesKey", s.testReleaseFreesKey},
		{"ReleaseTwice", s.testReleaseTwice},
		{"ExpiryEndsLease", s.testExpiryEndsLease},
		{"ErrSeesExpiryWithoutDone", s.testErrSeesExpiryWithoutDone},
		{"StaleLeaseCannotTouchNewHolder", s.testStaleLeaseCannotTouchNewHolder},
		{"RefreshExtends", s.testRefreshExtends},
		{"RefreshNeverResurrects", s.testRefreshNeverResurrects},
		{"AutoRefreshKeepsLease", s.testAutoRefreshKeepsLease},
		{"MaxHoldEndsLease", s.testMaxHoldEndsLease},
		{"CrashedHolderFreesKey", s.testCrashedHolderFreesKey},
		{"TokensIncrease", s.testTokensIncrease},
		{"FIFO", s.testFIFO},
		{"BadInput", s.testBadInput},
		{"RequireFencing", s.testRequireFencing},
		{"DoReleases", s.testDoReleases},
		{"DoCancelsOnLoss", s.testDoCancelsOnLoss},
		{"IndependentKeys", s.testIndependentKeys},
	} {
		t.Run(c.name, c.fn)
	}
}

type suite struct {
	h     Harness
	props lock.Properties
	ok    bool
	ttl   time.Duration
}

// key returns a key no other test uses.
func key(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "locktest-" + hex.EncodeToString(b[:])
}

func (s *suite) requireLeaseTTL(t *testing.T) {
	t.Helper()
	if !s.props.LeaseTTL {
		t.Skipf("%s: grants live as long as a session, not a TTL (Properties.LeaseTTL is false); CrashedHolderFreesKey covers expiry", s.props.Name)
	}
}
