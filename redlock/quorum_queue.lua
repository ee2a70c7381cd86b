-- quorum_queue.lua: the waiter queue of one lock on one Redlock node,
-- prepended to the quorum scripts (scripts.go).
--
-- Waiters are ordered by a ticket, not by arrival: the sorted set {key}:wq
-- holds each waiter's id with its ticket (the waiter's clock, in µs, at its
-- first attempt) as score, so every node orders the same waiters the same way
-- (equal tickets by id) and the lowest live ticket is the head on every node
-- that knows it; that waiter alone can be granted a majority. The hash
-- {key}:wqd holds each waiter's deadline on the node's clock (TIME, ms); a
-- waiter renews it with every attempt, and a head whose deadline has passed
-- is dropped.
--
-- The functions are built by queue() only when a script needs them: an
-- uncontended grant or release pays for none of them.
local function queue()
	local q = {}

	function q.now_ms()
		local t = redis.call('TIME')
		return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	end

	-- live_head drops the heads of q whose deadline in qd has passed and returns
	-- the first live one (or nil), and whether any was dropped. It reads the
	-- clock only when someone is queued: an uncontended grant does not.
	function q.live_head(qk, qd)
		local dropped = false
		local now
		while true do
			local head = redis.call('ZRANGE', qk, 0, 0)[1]
			if not head then
				return nil, dropped
			end
			now = now or q.now_ms()
			if tonumber(redis.call('HGET', qd, head) or '0') > now then
				return head, dropped
			end
			redis.call('ZREM', qk, head)
			redis.call('HDEL', qd, head)
			dropped = true
		end
	end

	-- enqueue adds waiter w with ticket t to q (keeping its ticket if it is
	-- there already) and sets its deadline in qd to now + wait ms.
	function q.enqueue(qk, qd, w, t, wait)
		redis.call('ZADD', qk, 'NX', t, w)
		redis.call('HSET', qd, w, q.now_ms() + wait)
		for _, k in ipairs({qk, qd}) do
			if redis.call('PTTL', k) < wait then
				redis.call('PEXPIRE', k, wait)
			end
		end
	end

	-- wake_head publishes the live head's id on its Locker's channel (wake
	-- prefix + the id's first 16 characters, the Locker's id) if the lock l
	-- is free and the head is not waiter w.
	function q.wake_head(l, qk, qd, wake, w)
		if redis.call('EXISTS', l) == 1 then
			return
		end
		local head = q.live_head(qk, qd)
		if head and head ~= w then
			redis.call('PUBLISH', wake .. string.sub(head, 1, 16), head) -- 16: idLen in notify.go
		end
	end

	return q
end
