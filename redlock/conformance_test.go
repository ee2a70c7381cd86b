package redlock_test

import (
	"testing"

	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/lock"
	"github.com/racefree/racefree/lock/locktest"
)

func TestConformanceSingle(t *testing.T) {
	locktest.Run(t, locktest.Harness{
		NewLocker: func(t *testing.T) lock.Locker { return newSingle(t, testenv.Redis(t)) },
	})
}

func TestConformanceQuorum(t *testing.T) {
	locktest.Run(t, locktest.Harness{
		NewLocker: func(t *testing.T) lock.Locker { return newQuorum(t, testenv.RedisNodes(t, 5)) },
	})
}
