-- quorum_acquire.lua: grant KEYS[1] to token ARGV[1] for ARGV[2] ms on one
-- Redlock node, if nobody holds it, and issue a fencing token from the counter
-- KEYS[2], atomically.
--
-- KEYS[1] lock key, KEYS[2] fencing counter (same Cluster hash tag as KEYS[1]).
-- ARGV[1] owner token, ARGV[2] TTL in milliseconds.
-- Returns the node's counter (an integer), or the holder's owner token (a
-- string) when the key is held: a refused caller learns whether one owner
-- holds a majority.
--
-- The counter has no expiry: a counter that expired would start again at 1 and
-- hand out tokens lower than ones already in use.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return redis.call('INCR', KEYS[2])
end
return redis.call('GET', KEYS[1])
