"""The Lua scripts of the result cache on Redis (store/base.py, "Result cache").

Keys, under the store's prefix P (ARGV[1]):

    P:result:<digest>  hash    payload, size (bytes), expires (epoch, the store's clock)
    P:results          zset    digest -> expires: expiry and eviction order
    P:result_bytes     string  the payload bytes held in all

Each change is one script, so the total stays the sum of the entries whatever several
instances do at once. Expiry follows the store's clock, not Redis's own key expiry, so tests
can move time (and an expired entry is simply not answered until a prune removes it).
"""

from __future__ import annotations

COMMON = r"""
local P = ARGV[1]
local Z = P .. ':results'
local B = P .. ':result_bytes'
local function rk(digest) return P .. ':result:' .. digest end

local function drop(digest)
  local size = redis.call('HGET', rk(digest), 'size')
  if size then redis.call('DECRBY', B, size) end
  redis.call('DEL', rk(digest))
  redis.call('ZREM', Z, digest)
end

-- The entries that expire soonest go while more than max_entries or max_bytes are held.
local function evict(max_entries, max_bytes, keep)
  local removed = 0
  while redis.call('ZCARD', Z) > max_entries or tonumber(redis.call('GET', B) or '0') > max_bytes do
    local first = redis.call('ZRANGE', Z, 0, 1)
    local victim = first[1]
    if victim == keep then victim = first[2] end
    if not victim then break end
    drop(victim)
    removed = removed + 1
  end
  return removed
end
"""

# ARGV: P, digest, payload, expires, max_entries, max_bytes
PUT_RESULT = (
    COMMON
    + r"""
local digest, payload, expires = ARGV[2], ARGV[3], ARGV[4]
drop(digest)
redis.call('HSET', rk(digest), 'payload', payload, 'size', string.len(payload), 'expires', expires)
redis.call('ZADD', Z, expires, digest)
redis.call('INCRBY', B, string.len(payload))
evict(tonumber(ARGV[5]), tonumber(ARGV[6]), digest)
return 1
"""
)

# ARGV: P, now, max_entries, max_bytes, batch. Answers the entries removed; the caller calls
# again while a whole batch of expired ones went, so one call never blocks Redis for long.
PRUNE_RESULTS = (
    COMMON
    + r"""
local removed = 0
for _, digest in ipairs(redis.call('ZRANGEBYSCORE', Z, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[5]))) do
  drop(digest)
  removed = removed + 1
end
return removed + evict(tonumber(ARGV[3]), tonumber(ARGV[4]), nil)
"""
)
