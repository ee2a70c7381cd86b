package redlock

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The scripts run with EVALSHA (one round trip); go-redis falls back to EVAL
// once when a server does not have a script cached yet.
var (
	// queue.lua holds the Lua functions of the waiter queue; it is
	// prepended to the scripts of a single deployment that touch the queue.
	//go:embed queue.lua
	queueSrc string

	//go:embed acquire.lua
	acquireSrc    string
	acquireScript = redis.NewScript(queueSrc + acquireSrc)

	//go:embed release.lua
	releaseSrc    string
	releaseScript = redis.NewScript(queueSrc + releaseSrc)

	//go:embed leave.lua
	leaveSrc    string
	leaveScript = redis.NewScript(queueSrc + leaveSrc)

	//go:embed refresh.lua
	refreshSrc    string
	refreshScript = redis.NewScript(refreshSrc)

	//go:embed quorum_acquire.lua
	quorumAcquireSrc    string
	quorumAcquireScript = redis.NewScript(quorumAcquireSrc)

	//go:embed quorum_release.lua
	quorumReleaseSrc    string
	quorumReleaseScript = redis.NewScript(quorumReleaseSrc)

	//go:embed quorum_undo.lua
	quorumUndoSrc    string
	quorumUndoScript = redis.NewScript(quorumUndoSrc)

	//go:embed fence.lua
	fenceSrc    string
	fenceScript = redis.NewScript(fenceSrc)
)
