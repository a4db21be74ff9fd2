-- KEYS: the queues (a queue may appear twice, at two offsets); ARGV: heads per queue,
-- ticket hash key prefix, then each queue's offset.
-- Each head as 'queue index|ticket|score|ch|tier|skill|lang|enq|tried|cust'; a member
-- without its hash (a leftover the rebuild corrects) is left out.
local out = {}
local n = tonumber(ARGV[1])
for qi, q in ipairs(KEYS) do
  local from = tonumber(ARGV[2 + qi] or '0')
  local members = redis.call('ZRANGE', q, from, from + n - 1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local id = members[i]
    local f = redis.call('HMGET', ARGV[2] .. id, 'ch', 'tier', 'skill', 'lang', 'enq', 'tried', 'cust')
    if f[1] then
      out[#out + 1] = table.concat({qi, id, members[i + 1], f[1], f[2] or '', f[3] or '', f[4] or '',
        f[5] or '', f[6] or '', f[7] or ''}, '|')
    end
  end
end
return out
