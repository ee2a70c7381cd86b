//go:build !linux

package finesleep

import (
	"context"
	"time"
)

// fineSleep has no fine timer here: the caller uses a time.Timer.
func fineSleep(context.Context, time.Duration) bool { return false }
