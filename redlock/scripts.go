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

	//go:embed take.lua
	takeSrc    string
	takeScript = redis.NewScript(takeSrc)

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

	// quorum_queue.lua holds the Lua functions of a Redlock node's waiter
	// queue; it is prepended to the quorum scripts below.
	//go:embed quorum_queue.lua
	quorumQueueSrc string

	//go:embed quorum_acquire.lua
	quorumAcquireSrc    string
	quorumAcquireScript = redis.NewScript(quorumQueueSrc + quorumAcquireSrc)

	//go:embed quorum_release.lua
	quorumReleaseSrc    string
	quorumReleaseScript = redis.NewScript(quorumQueueSrc + quorumReleaseSrc)

	//go:embed quorum_undo.lua
	quorumUndoSrc    string
	quorumUndoScript = redis.NewScript(quorumQueueSrc + quorumUndoSrc)

	//go:embed quorum_leave.lua
	quorumLeaveSrc    string
	quorumLeaveScript = redis.NewScript(quorumQueueSrc + quorumLeaveSrc)

	//go:embed adopt.lua
	adoptSrc    string
	adoptScript = redis.NewScript(adoptSrc)

	//go:embed fence.lua
	fenceSrc    string
	fenceScript = redis.NewScript(fenceSrc)
)
