-- quorum_undo.lua: take back a partial Redlock grant on one node: delete KEYS[1]
-- if and only if it holds token ARGV[1], and then, if ARGV[3] is "1", tell
-- waiters on channel ARGV[2] that the key may be free.
--
-- Unlike quorum_release.lua it never publishes for a missing key: a refused
-- attempt finds the key missing on the nodes it did not get, and announcing
-- those would wake other waiters for nothing, each of which would fail and
-- announce again (a wake-up storm). The caller asks for no announcement at
-- all when another owner holds a majority: that owner's release will wake
-- the waiters.
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	if ARGV[3] == '1' then
		redis.call('PUBLISH', ARGV[2], ARGV[1])
	end
	return 1
end
return 0
