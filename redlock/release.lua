-- release.lua: delete the lock KEYS[1] if and only if it holds token ARGV[1],
-- and, when its value is marked as waited for ("|w", see queue.lua), hand it
-- over to the live head of the waiter queue: the key is reserved for the
-- head and its token published on its Locker's channel (prefix ARGV[2]), so
-- only the waiter holding it tries, and only its Locker hears of it
-- (queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- Returns 1 when released, 0 when the key held another token or none. A
-- missing key (it expired) is handed over as well: the lock is free.
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	-- Nobody queued behind the holder.
	redis.call('DEL', KEYS[1])
	return 1
end
if v and v ~= ARGV[1] .. '|w' then
	return 0
end
if v then
	redis.call('DEL', KEYS[1])
end
queue().hand_over(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
if v then
	return 1
end
return 0
