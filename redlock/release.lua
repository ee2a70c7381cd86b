-- release.lua: delete the lock KEYS[1] if and only if it holds token ARGV[1],
-- and wake the live head of the waiter queue: its token is published on
-- channel ARGV[2], so only the waiter holding it tries (queue.lua is
-- prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- Returns 1 when released, 0 when the key held another token or none. A
-- missing key (it expired) wakes the head as well: the lock is free.
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then
	return 0
end
local released = 0
if v then
	redis.call('DEL', KEYS[1])
	released = 1
end
local head = live_head(KEYS[2], KEYS[3], now_ms())
if head then
	redis.call('PUBLISH', ARGV[2], head)
end
return released
