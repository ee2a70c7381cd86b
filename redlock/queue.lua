-- queue.lua: the waiter queue of one lock on one Redis deployment, prepended
-- to acquire.lua, release.lua and leave.lua (scripts.go).
--
-- The queue is a list of owner tokens ({key}:q, oldest first) and a hash of
-- their deadlines ({key}:qd, token -> milliseconds on the server's clock). A
-- waiter renews its deadline with every attempt; a waiter whose deadline has
-- passed is dropped when it reaches the head. A token may appear twice in the
-- list (it came back after its deadline passed); a copy without a live
-- deadline is dropped like any dead head.
--
-- While the queue has a live head the lock key is never left free: a release
-- hands it over, so a newcomer's first attempt (take.lua) cannot take it
-- past the queue. The lock's value is the holder's owner token, with "|w"
-- appended once someone queued behind it: a release without the mark
-- deletes the key and is done, without reading the queue.
--
-- The functions are built by queue() only when a script needs them, so the
-- common release pays for none of them.
local function queue()
	local q = {}

	-- now_ms is the server's clock in milliseconds (TIME; scripts replicate
	-- by effects since Redis 5, so reading it before writing is allowed).
	function q.now_ms()
		local t = redis.call('TIME')
		return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	end

	-- live_head drops the heads of queue qk whose deadline in hash qd has
	-- passed and returns the first live one and its deadline (nil when none
	-- is left).
	function q.live_head(qk, qd, now)
		local head = redis.call('LINDEX', qk, 0)
		while head do
			local d = tonumber(redis.call('HGET', qd, head) or '0')
			if d > now then
				return head, d
			end
			redis.call('LPOP', qk)
			redis.call('HDEL', qd, head)
			head = redis.call('LINDEX', qk, 0)
		end
		return nil, 0
	end

	-- reserve hands the free lock to the waiter head until its deadline: the
	-- lock key takes the head's owner token, which acquire.lua turns into the
	-- head's grant, and the head is woken on its Locker's channel (wake
	-- prefix + the token's first 16 characters, its Locker's id). Should the
	-- head have died, the reservation ends at its deadline like a dead
	-- holder's grant.
	function q.reserve(lock, wake, head, deadline, now)
		redis.call('SET', lock, head, 'PX', deadline - now)
		redis.call('PUBLISH', wake .. string.sub(head, 1, 16), head) -- 16: idLen in notify.go
	end

	-- hand_over reserves the free lock for the live head of the queue, if
	-- any.
	function q.hand_over(lock, qk, qd, wake)
		if not redis.call('LINDEX', qk, 0) then
			return
		end
		local now = q.now_ms()
		local head, deadline = q.live_head(qk, qd, now)
		if head then
			q.reserve(lock, wake, head, deadline, now)
		end
	end

	-- holds reports whether the lock value v is token's, marked or not.
	function q.holds(v, token)
		return v == token or v == token .. '|w'
	end

	-- grant gives the lock to token for ttl ms, marked when others wait,
	-- and issues its fencing token from counter.
	function q.grant(lock, counter, qk, token, ttl)
		local v = token
		if redis.call('LLEN', qk) > 0 then
			v = token .. '|w'
		end
		redis.call('SET', lock, v, 'PX', ttl)
		return redis.call('INCR', counter)
	end

	-- keep_until makes key live at least ms longer (never shortens its
	-- expiry: Lockers with a longer waiter deadline share the queue).
	function q.keep_until(key, ms)
		if redis.call('PTTL', key) < ms then
			redis.call('PEXPIRE', key, ms)
		end
	end

	return q
end
