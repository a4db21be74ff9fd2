-- KEYS: presence, load, cap, rebuilding
-- ARGV: agent, key prefix, now (ms, the service's clock), then (queue, ticket, channel) for
-- each candidate, best first
-- An agent's live status is 'status:expiry ms' (by the service's clock): online while the
-- expiry is after now (a bare status, written before expiries, holds while its key lives).
local function online(v, now)
  if not v then return false end
  local st, exp = string.match(v, '^(.*):(%d+)$')
  if not st then return v == 'online' end
  return st == 'online' and tonumber(exp) > now
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {-3, 0} end
if not online(redis.call('GET', KEYS[1]), tonumber(ARGV[3])) then return {-1, 0} end
local full = false
for i = 4, #ARGV, 3 do
  local qk = ARGV[2] .. 'queue:' .. ARGV[i]
  if redis.call('ZSCORE', qk, ARGV[i + 1]) ~= false then
    local load = tonumber(redis.call('HGET', KEYS[2], ARGV[i + 2]) or '0')
    local cap = tonumber(redis.call('HGET', KEYS[3], ARGV[i + 2]) or '0')
    if load >= cap then
      full = true
    else
      redis.call('ZREM', qk, ARGV[i + 1])
      redis.call('HINCRBY', KEYS[2], ARGV[i + 2], 1)
      redis.call('SET', ARGV[2] .. 'holder:' .. ARGV[i + 1], ARGV[1])
      return {1, (i - 4) / 3}
    end
  end
end
if full then return {-2, 0} end
return {0, 0}
