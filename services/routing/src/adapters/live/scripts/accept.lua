-- KEYS: offer, offers, holder, rebuilding; ARGV: ticket, agent
if redis.call('EXISTS', KEYS[4]) == 1 then return -3 end
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2])
return 1
