-- KEYS: offer, offers, holder, ticket hash, queue, idle
-- ARGV: ticket, channel, now (ms), load key prefix
local agent = redis.call('GET', KEYS[3])
if not agent then agent = redis.call('GET', KEYS[1]) end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if not agent then return '' end
local lk = ARGV[4] .. agent
if redis.call('HINCRBY', lk, ARGV[2], -1) < 0 then redis.call('HSET', lk, ARGV[2], 0) end
redis.call('ZADD', KEYS[6], ARGV[3], agent)
return agent
