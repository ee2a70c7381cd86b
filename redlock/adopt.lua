-- adopt.lua: on a Redlock node a grant did not ask (it asked only a
-- majority, and one of those failed), take KEYS[1] for owner token ARGV[1]
-- for ARGV[2] ms if it is free, or extend it if it is the token's already.
-- Another owner's key is left alone.
--
-- Returns 1 when the node holds the token for ARGV[2] ms, 0 otherwise.
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not v then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
return 0
