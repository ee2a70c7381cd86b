-- acquire.lua: grant the lock KEYS[1] to token ARGV[1] for ARGV[2] ms if it is
-- free and no one waits before the caller, issue a fencing token from the
-- counter KEYS[2], and queue the caller otherwise (queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] waiter queue, KEYS[4] waiter
-- deadlines; all four share the Cluster hash tag {key}.
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds, ARGV[3] the waiter's
-- deadline in milliseconds (0: the caller does not wait, TryAcquire),
-- ARGV[4] release channel.
-- Returns the fencing token, or nil when the caller was not granted.
--
-- The counter has no expiry: a counter that expired would start again at 1 and
-- hand out tokens lower than ones already in use.
local now = now_ms()
local head, dropped = live_head(KEYS[3], KEYS[4], now)
if redis.call('EXISTS', KEYS[1]) == 0 then
	if not head or head == ARGV[1] then
		redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
		if head then
			redis.call('LPOP', KEYS[3])
		end
		redis.call('HDEL', KEYS[4], ARGV[1])
		return redis.call('INCR', KEYS[2])
	end
	if dropped then
		-- The lock is free and its dead heads are gone: the new head may
		-- not have heard of it (the last release woke a dead one).
		redis.call('PUBLISH', ARGV[4], head)
	end
end
local wait = tonumber(ARGV[3])
if wait > 0 then
	local old = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
	if old <= now then
		-- New, or back after its deadline passed (and maybe dropped).
		redis.call('RPUSH', KEYS[3], ARGV[1])
	end
	redis.call('HSET', KEYS[4], ARGV[1], now + wait)
	keep_until(KEYS[3], wait)
	keep_until(KEYS[4], wait)
end
return false
