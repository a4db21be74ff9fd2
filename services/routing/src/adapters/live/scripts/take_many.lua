-- KEYS: rebuilding, offers
-- ARGV: key prefix, now (ms, the service's clock), then (queue, ticket, agent, channel, offer
-- expiry ms or 0 to take) per claim. One code per claim: 1 granted, 0 gone, -1 agent not
-- online, -2 agent full.
-- An agent's live status is 'status:expiry ms' (by the service's clock): online while the
-- expiry is after now (a bare status, written before expiries, holds while its key lives).
local function online(v, now)
  if not v then return false end
  local st, exp = string.match(v, '^(.*):(%d+)$')
  if not st then return v == 'online' end
  return st == 'online' and tonumber(exp) > now
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-3} end
local p = ARGV[1]
local now = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 5 do
  local q, t, a, ch, exp = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local qk = p .. 'queue:' .. q
  local code = 1
  if redis.call('ZSCORE', qk, t) == false then
    code = 0
  elseif not online(redis.call('GET', p .. 'presence:live:' .. a), now) then
    code = -1
  else
    local lk = p .. 'load:' .. a
    local load = tonumber(redis.call('HGET', lk, ch) or '0')
    local cap = tonumber(redis.call('HGET', p .. 'cap:' .. a, ch) or '0')
    if load >= cap then
      code = -2
    else
      redis.call('ZREM', qk, t)
      redis.call('HINCRBY', lk, ch, 1)
      if exp ~= '0' then
        redis.call('SET', p .. 'offer:' .. t, a)
        redis.call('ZADD', KEYS[2], exp, t)
      else
        redis.call('SET', p .. 'holder:' .. t, a)
      end
    end
  end
  out[#out + 1] = code
end
return out
