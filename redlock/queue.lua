-- queue.lua: the waiter queue of one lock on one Redis deployment, prepended
-- to acquire.lua, release.lua and leave.lua (scripts.go).
--
-- The queue is a list of owner tokens ({key}:q, oldest first) and a hash of
-- their deadlines ({key}:qd, token -> milliseconds on the server's clock). A
-- waiter renews its deadline with every attempt; a waiter whose deadline has
-- passed is dropped when it reaches the head. A token may appear twice in the
-- list (it came back after its deadline passed); a copy without a live
-- deadline is dropped like any dead head.

-- now_ms is the server's clock in milliseconds (TIME; scripts replicate by
-- effects since Redis 5, so reading it before writing is allowed).
local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- live_head drops the heads of queue q whose deadline in hash qd has passed
-- and returns the first live one (or nil), and whether any was dropped.
local function live_head(q, qd, now)
	local dropped = false
	local head = redis.call('LINDEX', q, 0)
	while head do
		local d = tonumber(redis.call('HGET', qd, head) or '0')
		if d > now then
			return head, dropped
		end
		redis.call('LPOP', q)
		redis.call('HDEL', qd, head)
		dropped = true
		head = redis.call('LINDEX', q, 0)
	end
	return nil, dropped
end

-- keep_until makes key live at least ms longer (never shortens its expiry:
-- Lockers with a longer waiter deadline share the queue).
local function keep_until(key, ms)
	if redis.call('PTTL', key) < ms then
		redis.call('PEXPIRE', key, ms)
	end
end

