-- fence.lua: raise the fencing counter KEYS[1] to at least ARGV[1] (Redlock).
--
-- After a quorum grant the token is the maximum of the granting nodes' counters;
-- writing it back to a majority makes every later majority include a node whose
-- counter is at least that high, so later tokens are strictly greater.
-- Returns the counter after the update.
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if c < want then
	redis.call('SET', KEYS[1], ARGV[1])
	return want
end
return c
