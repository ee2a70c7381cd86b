-- leave.lua: take a waiter that gives up (its Acquire was cancelled) out of
-- the queue, together with a grant it may have won without hearing of it,
-- and pass a wake-up it may have swallowed on to the next live head
-- (queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- ARGV[1] the waiter's owner token, ARGV[2] release channel.
-- Returns 1.
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
	local head = live_head(KEYS[2], KEYS[3], now_ms())
	if head then
		redis.call('PUBLISH', ARGV[2], head)
	end
end
return 1
