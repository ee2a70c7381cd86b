-- leave.lua: take a waiter that gives up (its Acquire was cancelled) out of
-- the queue, together with a grant or reservation it may hold without having
-- heard of it, and hand a free lock on to the next live head (queue.lua is
-- prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- ARGV[1] the waiter's owner token, ARGV[2] the wake channels'
-- prefix (see queue.lua's reserve).
-- Returns 1.
local q = queue()
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local v = redis.call('GET', KEYS[1])
if q.holds(v, ARGV[1]) then
	redis.call('DEL', KEYS[1])
	v = false
end
if not v then
	q.hand_over(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
end
return 1
