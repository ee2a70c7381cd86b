-- take.lua: the first attempt of an Acquire or TryAcquire. Grant the lock
-- KEYS[1] to token ARGV[1] for ARGV[2] ms if it is free, and issue a fencing
-- token from the counter KEYS[2], atomically. A key someone waits for is
-- never free (queue.lua hands it over), so this cannot barge past a queue.
--
-- Returns the fencing token, or nil when the key is taken.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return redis.call('INCR', KEYS[2])
end
return false
