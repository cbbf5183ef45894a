"""The Lua scripts of stored analyses and acknowledgements on Redis (store/base.py, "Stored
analyses" and "Acknowledgements").

Keys, under the store's prefix P (ARGV[1]); <r> is a repository, <n> the length of <r> in bytes
(so that no repository and scope, or repository and commit, name the key of another pair):

    P:analysis:<id>              hash    record (analyses_codec.py), payload, size (bytes), and
                                         the repository, scope and head_sha it is indexed by
    P:analyses                   zset    id -> created_at: every analysis (age, eviction order)
    P:analyses:repo:<r>          zset    id -> created_at: a repository's history
    P:analyses:scope:<n>:<r>:<scope>   zset  id -> created_at
    P:analyses:head:<n>:<r>:<sha>      zset  id -> created_at
    P:analysis_bytes             string  the payload bytes held in all
    P:acks:<n>:<r>:<scope>       hash    signal id -> the acknowledgement (analyses_codec.py)
    P:ack_at                     zset    "<n>:<r>:<scope> <signal id>" -> at (age)
    P:acklog:seq                 string  the log's counter (an entry's seq)
    P:acklog:entry               hash    seq -> the entry (analyses_codec.py, without its seq)
    P:acklog:all                 zset    seq -> seq (listing, bound, age in recording order)
    P:acklog:repo:<r>            zset    seq -> seq: one repository's entries

Orders are the sorted sets' own: by score (created_at), then by member (the id), as sqlite's
(created_at, id). Each change is one script, so the byte total stays the sum of the analyses
held whatever several instances do at once. Every value a user chose (repository, scope,
commit, texts) comes in ARGV, never in a script's source. What a script reads back of a record
is treated as untrusted: a key of another type, a missing or malformed field is passed by, so
one corrupted record cannot stop eviction or pruning.
"""

from __future__ import annotations

COMMON = r"""
local P = ARGV[1]
local Z = P .. ':analyses'
local B = P .. ':analysis_bytes'
local AT = P .. ':ack_at'
local SEQ, LOG, ALL = P .. ':acklog:seq', P .. ':acklog:entry', P .. ':acklog:all'
local function ak(id) return P .. ':analysis:' .. id end
local function repo_key(repo) return P .. ':analyses:repo:' .. repo end
local function pair(repo, other) return #repo .. ':' .. repo .. ':' .. other end
local function scope_key(repo, scope) return P .. ':analyses:scope:' .. pair(repo, scope) end
local function head_key(repo, head) return P .. ':analyses:head:' .. pair(repo, head) end
local function log_repo_key(repo) return P .. ':acklog:repo:' .. repo end

-- The bytes held; a total that is not a number (written by something else) starts again at 0.
local function held()
  local total = tonumber(redis.call('GET', B) or '0')
  if not total then
    redis.call('SET', B, 0)
    return 0
  end
  return total
end

local function drop(id)
  local key = ak(id)
  if redis.call('TYPE', key).ok == 'hash' then
    local repo, scope, head, size = unpack(redis.call('HMGET', key, 'repository', 'scope', 'head_sha', 'size'))
    if repo then
      redis.pcall('ZREM', repo_key(repo), id)
      if scope then redis.pcall('ZREM', scope_key(repo, scope), id) end
      if head then redis.pcall('ZREM', head_key(repo, head), id) end
    end
    if size and string.match(size, '^%d+$') then
      held()
      if redis.call('DECRBY', B, size) < 0 then redis.call('SET', B, 0) end
    end
  end
  redis.call('DEL', key)
  redis.call('ZREM', Z, id)
end

-- The oldest analyses go while more than max_bytes are held (never `keep`); answers how many.
local function evict(max_bytes, keep)
  local removed = 0
  while held() > max_bytes do
    local first = redis.call('ZRANGE', Z, 0, 1)
    local victim = first[1]
    if victim == keep then victim = first[2] end
    if not victim then
      -- Nothing else is held: the total is what `keep` holds (a total off by a record that
      -- was overwritten by something else is set right here).
      local size = keep and redis.call('HGET', ak(keep), 'size')
      redis.call('SET', B, size or 0)
      break
    end
    drop(victim)
    removed = removed + 1
  end
  return removed
end

local function log_drop(seq, entry)
  if type(entry) == 'table' and type(entry.repository) == 'string' then
    redis.pcall('ZREM', log_repo_key(entry.repository), seq)
  end
  redis.call('HDEL', LOG, seq)
  redis.call('ZREM', ALL, seq)
end

-- The entry stored under seq, decoded, or nil (absent or unreadable).
local function log_entry(seq)
  local raw = redis.call('HGET', LOG, seq)
  if not raw then return nil end
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' then return entry end
  return nil
end
"""

# ARGV: P, id, record, payload, created_at, repository, scope, head_sha, max_bytes.
PUT_ANALYSIS = (
    COMMON
    + r"""
local id, record, payload, created_at = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local repo, scope, head = ARGV[6], ARGV[7], ARGV[8]
drop(id)
redis.call('HSET', ak(id), 'record', record, 'payload', payload, 'size', string.len(payload),
  'repository', repo, 'scope', scope, 'head_sha', head)
redis.call('ZADD', Z, created_at, id)
redis.call('ZADD', repo_key(repo), created_at, id)
redis.call('ZADD', scope_key(repo, scope), created_at, id)
redis.call('ZADD', head_key(repo, head), created_at, id)
held()
redis.call('INCRBY', B, string.len(payload))
evict(tonumber(ARGV[9]), id)
return 1
"""
)

# ARGV: P, cutoff, max_bytes, batch. Removes at most `batch` analyses older than the cutoff,
# then evicts down to max_bytes; answers how many went. The caller calls again while a whole
# batch went, so one call never blocks Redis for long.
PRUNE_ANALYSES = (
    COMMON
    + r"""
local removed = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', Z, '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))) do
  drop(id)
  removed = removed + 1
end
return removed + evict(tonumber(ARGV[3]), nil)
"""
)

# ARGV: P, repository, scope, max_per_scope, max_log, most to trim, remove all ('1' or '0'),
# n_remove, n_add, then n_remove signal ids, then n_add (signal id, at, acknowledgement)
# triples, then (repository, entry) pairs of the log events to the end. Answers the scope's
# acknowledgements as HGETALL does.
CHANGE_ACKS = (
    COMMON
    + r"""
local suffix = pair(ARGV[2], ARGV[3])
local key = P .. ':acks:' .. suffix
local max_per_scope, max_log, most = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local n_remove, n_add = tonumber(ARGV[8]), tonumber(ARGV[9])
local i = 10
if ARGV[7] == '1' then
  for _, signal in ipairs(redis.call('HKEYS', key)) do redis.call('ZREM', AT, suffix .. ' ' .. signal) end
  redis.call('DEL', key)
end
for j = i, i + n_remove - 1 do
  redis.call('HDEL', key, ARGV[j])
  redis.call('ZREM', AT, suffix .. ' ' .. ARGV[j])
end
i = i + n_remove
for j = i, i + 3 * (n_add - 1), 3 do
  local signal, at, ack = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  -- A full scope takes no new signal ids; one it holds is replaced.
  if redis.call('HEXISTS', key, signal) == 1 or redis.call('HLEN', key) < max_per_scope then
    redis.call('HSET', key, signal, ack)
    redis.call('ZADD', AT, at, suffix .. ' ' .. signal)
  end
end
i = i + 3 * n_add
local logged = false
for j = i, #ARGV, 2 do
  local seq = redis.call('INCR', SEQ)
  redis.call('HSET', LOG, seq, ARGV[j + 1])
  redis.call('ZADD', ALL, seq, seq)
  redis.call('ZADD', log_repo_key(ARGV[j]), seq, seq)
  logged = true
end
if logged then
  local excess = math.min(redis.call('ZCARD', ALL) - max_log, most)
  if excess > 0 then
    for _, seq in ipairs(redis.call('ZRANGE', ALL, 0, excess - 1)) do log_drop(seq, log_entry(seq)) end
  end
end
return redis.call('HGETALL', key)
"""
)

# ARGV: P, cutoff, batch. Removes at most `batch`: the acknowledgements made before the cutoff,
# then the oldest log entries while older than it (in recording order, as the audit log's; an
# unreadable one goes too). Answers how many went.
PRUNE_ACKS = (
    COMMON
    + r"""
local cutoff, batch = tonumber(ARGV[2]), tonumber(ARGV[3])
local removed = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', AT, '-inf', '(' .. ARGV[2], 'LIMIT', 0, batch)) do
  local suffix, signal = string.match(member, '^(.*) (%x+)$')
  if suffix then redis.pcall('HDEL', P .. ':acks:' .. suffix, signal) end
  redis.call('ZREM', AT, member)
  removed = removed + 1
end
if removed < batch then
  for _, seq in ipairs(redis.call('ZRANGE', ALL, 0, batch - removed - 1)) do
    local entry = log_entry(seq)
    if entry and tonumber(entry.at) and tonumber(entry.at) >= cutoff then break end
    log_drop(seq, entry)
    removed = removed + 1
  end
end
return removed
"""
)

# The scripts the store registers, by their names above.
SCRIPTS = ("PUT_ANALYSIS", "PRUNE_ANALYSES", "CHANGE_ACKS", "PRUNE_ACKS")
