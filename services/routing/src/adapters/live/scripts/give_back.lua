-- KEYS: offer, offers, holder, load, queue, ticket hash, queues
-- ARGV: ticket, agent, channel, score, remember (1: do not offer it to them again), queue name
if redis.call('GET', KEYS[1]) ~= ARGV[2] and redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HINCRBY', KEYS[4], ARGV[3], -1) < 0 then redis.call('HSET', KEYS[4], ARGV[3], 0) end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[6])
if ARGV[5] == '1' then
  local tried = redis.call('HGET', KEYS[6], 'tried')
  if tried and tried ~= '' then tried = tried .. ',' .. ARGV[2] else tried = ARGV[2] end
  redis.call('HSET', KEYS[6], 'tried', tried)
end
return 1
