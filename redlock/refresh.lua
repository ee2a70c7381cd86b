-- refresh.lua: extend KEYS[1] to ARGV[2] ms if and only if it still holds token
-- ARGV[1]. An expired or foreign key is left alone, never re-created.
--
-- Returns 1 when extended, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
