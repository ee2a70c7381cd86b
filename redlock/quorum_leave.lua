-- quorum_leave.lua: take a waiter that gives up (its Acquire was cancelled)
-- out of the queue of one Redlock node, and pass the wake-up it may have
-- swallowed on to the next live head (quorum_queue.lua is prepended).
--
-- KEYS[1] lock, KEYS[2] waiter queue, KEYS[3] waiter deadlines.
-- ARGV[1] waiter id, ARGV[2] the wake channels' prefix.
-- Returns 1.
local q = queue()
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
q.wake_head(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[1])
return 1
