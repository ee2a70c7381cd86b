-- take.lua: the first attempt of an Acquire or TryAcquire. Grant the lock
-- KEYS[1] to token ARGV[1] for ARGV[2] ms if it is free, and issue a fencing
-- token from the counter KEYS[2], atomically. A key someone waits for is
-- never free (queue.lua hands it over), so this cannot barge past a queue.
-- A key that already holds ARGV[1] was taken by this very attempt, whose
-- answer was lost and which go-redis sent again: it is granted again, with
-- a new fencing token, rather than left behind until its TTL.
--
-- Returns the fencing token, or nil when the key is taken. (SET with both NX
-- and GET needs Redis 7.0.)
local held = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2], 'GET')
if not held then
	return redis.call('INCR', KEYS[2])
end
if held == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return redis.call('INCR', KEYS[2])
end
return false
