-- quorum_release.lua: delete KEYS[1] on one Redlock node if and only if it
-- still holds token ARGV[1], and tell waiters on channel ARGV[2] that the key
-- may be free.
--
-- Returns 1 when released, 0 when the key held another token or none. A
-- missing key (it expired) is announced as well: it is free. Waiters hear the
-- same payload from every node and wake once per Locker.
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.call('PUBLISH', ARGV[2], ARGV[1])
	return 1
end
if not v then
	redis.call('PUBLISH', ARGV[2], ARGV[1])
end
return 0
