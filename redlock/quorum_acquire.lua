-- quorum_acquire.lua: grant KEYS[1] to owner token ARGV[1] for ARGV[2] ms on
-- one Redlock node if nobody holds it and no other waiter is queued before
-- the caller, and issue a fencing token from the counter KEYS[2], atomically;
-- queue the caller otherwise (quorum_queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter queue, KEYS[4]
-- waiter deadlines (all with the hash tag of KEYS[1]).
-- ARGV[1] owner token (new per attempt), ARGV[2] TTL in ms, ARGV[3] waiter id
-- ('' for TryAcquire), ARGV[4] ticket, ARGV[5] the waiter's deadline in ms
-- (0: do not queue), ARGV[6] the wake channels'
-- prefix (see quorum_queue.lua's wake_head).
-- Returns the node's counter (an integer) when granted; otherwise the holder's
-- owner token or the head waiter's id (a string).
--
-- The counter has no expiry: a counter that expired would start again at 1 and
-- hand out tokens lower than ones already in use.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
	-- This very attempt took the key, its answer was lost and go-redis sent
	-- it again: it is the caller's.
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return redis.call('INCR', KEYS[2])
end
if not holder and redis.call('EXISTS', KEYS[3]) == 0 then
	-- Free, and nobody queued.
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return redis.call('INCR', KEYS[2])
end
local q = queue()
local head
if not holder then
	local dropped
	head, dropped = q.live_head(KEYS[3], KEYS[4])
	if not head or head == ARGV[3] then
		redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
		return redis.call('INCR', KEYS[2])
	end
	if dropped then
		-- The lock is free and its dead heads are gone: the new head may
		-- not have heard of it.
		redis.call('PUBLISH', ARGV[6] .. string.sub(head, 1, 16), head) -- 16: idLen in notify.go
	end
end
local wait = tonumber(ARGV[5])
if wait > 0 then
	q.enqueue(KEYS[3], KEYS[4], ARGV[3], ARGV[4], wait)
end
return holder or head
