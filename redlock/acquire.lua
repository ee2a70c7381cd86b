-- acquire.lua: a queued waiter's attempt (the first attempt of an Acquire is
-- take.lua). Grant the lock KEYS[1] to token ARGV[1]
-- for ARGV[2] ms if a release reserved it for the caller, or if it is free
-- and nobody lives before the caller in the queue, and issue a fencing token
-- from the counter KEYS[2]; queue the caller otherwise (queue.lua is
-- prepended).
--
-- KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter queue, KEYS[4] waiter
-- deadlines; all four share the Cluster hash tag {key}.
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds, ARGV[3] the waiter's
-- deadline in milliseconds (0: the caller does not queue), ARGV[4] the wake
-- channels' prefix (see queue.lua's reserve).
-- Returns the fencing token, or nil when the caller was not granted.
--
-- The counter has no expiry: a counter that expired would start again at 1 and
-- hand out tokens lower than ones already in use.
local q = queue()
local v = redis.call('GET', KEYS[1])
if q.holds(v, ARGV[1]) then
	-- Reserved for the caller by the release that woke it (hand_over), or
	-- granted by an attempt whose answer was lost and is now repeated.
	redis.call('LREM', KEYS[3], 1, ARGV[1])
	redis.call('HDEL', KEYS[4], ARGV[1])
	return q.grant(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
end
local now = q.now_ms()
if not v then
	local head, deadline = q.live_head(KEYS[3], KEYS[4], now)
	if not head or head == ARGV[1] then
		if head then
			redis.call('LPOP', KEYS[3])
		end
		redis.call('HDEL', KEYS[4], ARGV[1])
		return q.grant(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
	end
	-- Free with a live head before the caller: its holder died, or it was
	-- reserved for a head that died. Hand it to the live head now.
	q.reserve(KEYS[1], ARGV[4], head, deadline, now)
	v = head
end
local wait = tonumber(ARGV[3])
if wait > 0 then
	local old = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
	if old <= now then
		-- New, or back after its deadline passed (and maybe dropped).
		redis.call('RPUSH', KEYS[3], ARGV[1])
	end
	redis.call('HSET', KEYS[4], ARGV[1], now + wait)
	q.keep_until(KEYS[3], wait)
	q.keep_until(KEYS[4], wait)
	if string.sub(v, -2) ~= '|w' then
		-- Mark the holder's value: its release must hand the lock over.
		redis.call('SET', KEYS[1], v .. '|w', 'KEEPTTL')
	end
end
return false
