-- KEYS: offer, offers, holder, queue, to presence, to load, to cap, ticket hash, rebuilding
-- ARGV: ticket, to agent, channel, check (1: must be online with free capacity), load key prefix,
--       expected current holder ('' for any), now (ms, the service's clock)
-- An agent's live status is 'status:expiry ms' (by the service's clock): online while the
-- expiry is after now (a bare status, written before expiries, holds while its key lives).
local function online(v, now)
  if not v then return false end
  local st, exp = string.match(v, '^(.*):(%d+)$')
  if not st then return v == 'online' end
  return st == 'online' and tonumber(exp) > now
end
if redis.call('EXISTS', KEYS[9]) == 1 then return {-3, ''} end
local cur = redis.call('GET', KEYS[3])
if not cur then cur = redis.call('GET', KEYS[1]) end
if ARGV[6] ~= '' and cur ~= ARGV[6] then return {0, ''} end
if cur == ARGV[2] then return {1, cur} end
if ARGV[4] == '1' then
  if not online(redis.call('GET', KEYS[5]), tonumber(ARGV[7])) then return {-1, ''} end
  local load = tonumber(redis.call('HGET', KEYS[6], ARGV[3]) or '0')
  local cap = tonumber(redis.call('HGET', KEYS[7], ARGV[3]) or '0')
  if load >= cap then return {-2, ''} end
end
redis.call('DEL', KEYS[1], KEYS[8])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if cur then
  local lk = ARGV[5] .. cur
  if redis.call('HINCRBY', lk, ARGV[3], -1) < 0 then redis.call('HSET', lk, ARGV[3], 0) end
end
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('SET', KEYS[3], ARGV[2])
return {1, cur or ''}
