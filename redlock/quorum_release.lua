-- quorum_release.lua: delete KEYS[1] on one Redlock node if and only if it
-- still holds owner token ARGV[1], take the holder's waiter id ARGV[2] out
-- of the queue, and, if ARGV[4] is "1" (the node is one of the key's
-- preferred majority), wake the queue's live head: its id is published on
-- its Locker's channel, whose prefix is ARGV[3] (quorum_queue.lua is
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
if redis.call('EXISTS', KEYS[2]) == 0 then
	-- Nobody queued (the holder included): nobody to wake.
	return released
end
local q = queue()
if ARGV[2] ~= '' then
	redis.call('ZREM', KEYS[2], ARGV[2])
	redis.call('HDEL', KEYS[3], ARGV[2])
end
if ARGV[4] == '1' then
	q.wake_head(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[2])
end
return released
