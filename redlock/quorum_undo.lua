-- quorum_undo.lua: take back a refused attempt's grant on one Redlock node:
-- delete KEYS[1] if and only if it holds owner token ARGV[1]; keep a waiting
-- caller's place (its ticket); and, if the key was deleted, wake the head of
-- the queue if that is another waiter (quorum_queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- ARGV[1] owner token, ARGV[2] waiter id ('' for TryAcquire), ARGV[3] ticket,
-- ARGV[4] the waiter's deadline in ms (0: not waiting), ARGV[5] the wake channels' prefix.
--
-- It never publishes for a missing key or another owner's key: nothing
-- changed there, and waking waiters for nothing makes failed attempts wake
-- each other in a storm.
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('DEL', KEYS[1])
local q = queue()
local wait = tonumber(ARGV[4])
if wait > 0 then
	q.enqueue(KEYS[2], KEYS[3], ARGV[2], ARGV[3], wait)
end
q.wake_head(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[2])
return 1
