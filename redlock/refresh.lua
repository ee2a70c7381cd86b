-- refresh.lua: extend KEYS[1] to ARGV[2] ms if and only if it still holds token
-- ARGV[1] (on a single deployment, maybe marked "|w" as waited for; see
-- queue.lua). An expired or foreign key is left alone, never re-created.
--
-- Returns 1 when extended, 0 otherwise.
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == ARGV[1] .. '|w' then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
