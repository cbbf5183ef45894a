"""The Lua scripts of the Redis job store: each operation that changes a job is one script, so it
is atomic against every other client of the server (Redis runs one script at a time).

Keys, under the store's prefix P (ARGV[1] of every script):

    P:job:<id>         hash    the job's record (codec.py); absent fields are None
    P:seq              string  the intake counter (a job's seq, its age)
    P:delivery:<id>    string  "<job id>|<seen epoch>", expiring a little after the dedup window
    P:ready            zset    runnable queued jobs, score priority * 1e12 + seq
    P:delayed          zset    queued jobs waiting for a retry, score not_before
    P:kq:<key>         set     queued jobs (ready or delayed) of one key, for supersede
    P:busy             hash    key -> the running job that holds it (per-key serialization)
    P:running          zset    running jobs, score lease_until
    P:inst_running     hash    installation id -> its number of running jobs (the claim's cap)
    P:state:<state>    zset    every job in that state, score seq (listing, counts)
    P:finished         zset    finished jobs, score the epoch they finished (retention); a job
                               owing a close is not in it until closed
    P:closes           zset    finished jobs owing their check run a close, score close_due
    P:rate:<repo>      zset    the repository's claims in the rate window: member the lease token,
                               score the epoch; trimmed to the limit, expiring when idle
    P:audit:seq        string  the audit log's counter (an entry's seq)
    P:audit:entry      hash    seq -> the entry as JSON, every value a string (none of Lua's numbers)
    P:audit:all        zset    every entry's seq, score seq (listing, bound, age)
    P:audit:by:<field>:<value>  zset  the seqs of the entries with that delivery_id, repository
                               or outcome (the filters worth an index; others are read through)

The scripts build key names from the prefix, so they run on one Redis server, not a cluster.
Scores and times come from Python as strings and are stored as given: Lua would print its own
numbers with 14 digits only.
"""

from __future__ import annotations

COMMON = r"""
local P = ARGV[1]
local function jk(id) return P .. ':job:' .. id end
local function record(id) return redis.call('HGETALL', jk(id)) end

local function move_state(id, old, new, seq)
  if old then redis.call('ZREM', P .. ':state:' .. old, id) end
  redis.call('ZADD', P .. ':state:' .. new, seq, id)
  redis.call('HSET', jk(id), 'state', new)
end

local function enqueue(id, key, priority, seq, not_before)
  if not_before and not_before ~= '' then
    redis.call('ZADD', P .. ':delayed', not_before, id)
    redis.call('HSET', jk(id), 'not_before', not_before)
  else
    redis.call('ZADD', P .. ':ready', string.format('%.0f', tonumber(priority) * 1e12 + tonumber(seq)), id)
    redis.call('HDEL', jk(id), 'not_before')
  end
  redis.call('SADD', P .. ':kq:' .. key, id)
end

local function unqueue(id, key)
  redis.call('ZREM', P .. ':ready', id)
  redis.call('ZREM', P .. ':delayed', id)
  redis.call('SREM', P .. ':kq:' .. key, id)
end

local function release(id, key)
  if redis.call('ZREM', P .. ':running', id) == 1 then
    local inst = redis.call('HGET', jk(id), 'installation_id')
    local left = redis.call('HINCRBY', P .. ':inst_running', inst, -1)
    if left <= 0 then redis.call('HDEL', P .. ':inst_running', inst) end
  end
  redis.call('HDEL', jk(id), 'lease_owner', 'lease_until')
  if redis.call('HGET', P .. ':busy', key) == id then redis.call('HDEL', P .. ':busy', key) end
end

local function finish(id, old, new, now, now_iso)
  local seq = redis.call('HGET', jk(id), 'seq')
  move_state(id, old, new, seq)
  if not redis.call('HGET', jk(id), 'finished_at') then redis.call('HSET', jk(id), 'finished_at', now_iso) end
  redis.call('HDEL', jk(id), 'not_before')
  redis.call('ZADD', P .. ':finished', now, id)
end

-- The job's run is to be closed (`ending` says why), from now on; retention passes it by meanwhile.
local function owe_close(id, ending, now)
  redis.call('HSET', jk(id), 'close_owed', ending, 'close_due', now)
  redis.call('ZADD', P .. ':closes', now, id)
  redis.call('ZREM', P .. ':finished', id)
end

local function forget_close(id)
  redis.call('HDEL', jk(id), 'close_owed', 'close_due')
  redis.call('ZREM', P .. ':closes', id)
end

-- Every other queued job of the key becomes superseded by `by`; answers their records.
local function supersede_queued(key, by, now, now_iso)
  local superseded = {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. ':kq:' .. key)) do
    if id ~= by then
      unqueue(id, key)
      redis.call('HSET', jk(id), 'superseded_by', by)
      finish(id, 'queued', 'superseded', now, now_iso)
      owe_close(id, 'superseded', now)
      table.insert(superseded, record(id))
    end
  end
  return superseded
end

-- A running job back to the queue (retry, lost worker), or superseded by a newer queued one.
local function back_to_queue(id, now, now_iso, not_before)
  local key, seq, priority = unpack(redis.call('HMGET', jk(id), 'key', 'seq', 'priority'))
  release(id, key)
  local newer = nil
  for _, other in ipairs(redis.call('SMEMBERS', P .. ':kq:' .. key)) do
    if other ~= id then newer = other end
  end
  if newer then
    redis.call('HSET', jk(id), 'superseded_by', newer)
    finish(id, 'running', 'superseded', now, now_iso)
    owe_close(id, 'superseded', now)
  else
    move_state(id, 'running', 'queued', seq)
    enqueue(id, key, priority, seq, not_before)
  end
end

local function revive(id, now, now_iso)
  local old, key, priority = unpack(redis.call('HMGET', jk(id), 'state', 'key', 'priority'))
  local seq = redis.call('INCR', P .. ':seq')
  redis.call('HSET', jk(id), 'seq', seq, 'attempts', 0)
  redis.call('HDEL', jk(id), 'started_at', 'finished_at', 'error', 'superseded_by', 'not_before',
    'lease_owner', 'lease_until')
  redis.call('ZREM', P .. ':finished', id)
  forget_close(id)  -- it runs again: what it owes is its next ending's
  move_state(id, old, 'queued', seq)
  local superseded = supersede_queued(key, id, now, now_iso)
  enqueue(id, key, priority, seq, nil)
  return {'revived', record(id), superseded}
end

local function held(id, token)
  local state, owner = unpack(redis.call('HMGET', jk(id), 'state', 'lease_owner'))
  return state == 'running' and owner == token
end

local AUDIT_INDEXED = {'delivery_id', 'repository', 'outcome'}

-- Records one audit entry (a table of strings, absent fields nil); answers its seq.
local function audit_add(entry)
  local seq = redis.call('INCR', P .. ':audit:seq')
  redis.call('HSET', P .. ':audit:entry', seq, cjson.encode(entry))
  redis.call('ZADD', P .. ':audit:all', seq, seq)
  for _, field in ipairs(AUDIT_INDEXED) do
    if entry[field] then redis.call('ZADD', P .. ':audit:by:' .. field .. ':' .. entry[field], seq, seq) end
  end
  return seq
end

local function audit_drop(seq)
  local raw = redis.call('HGET', P .. ':audit:entry', seq)
  if raw then
    local entry = cjson.decode(raw)
    for _, field in ipairs(AUDIT_INDEXED) do
      if entry[field] then redis.call('ZREM', P .. ':audit:by:' .. field .. ':' .. entry[field], seq) end
    end
    redis.call('HDEL', P .. ':audit:entry', seq)
  end
  redis.call('ZREM', P .. ':audit:all', seq)
end

-- Removes the oldest entries beyond max_entries, at most `most` of them; answers how many.
local function audit_trim(max_entries, most)
  local excess = math.min(redis.call('ZCARD', P .. ':audit:all') - max_entries, most)
  if excess <= 0 then return 0 end
  for _, seq in ipairs(redis.call('ZRANGE', P .. ':audit:all', 0, excess - 1)) do audit_drop(seq) end
  return excess
end

local function set_or_clear(id, field, present, value)
  if present == '1' then redis.call('HSET', jk(id), field, value) else redis.call('HDEL', jk(id), field) end
end
"""

# ARGV: P, now, now_iso, window, delivery_ttl, n, then the delivery's audit entry as n/2 field,
# value pairs (n = 0: none), then the new job's record as field, value pairs. The entry is
# recorded with the job answered (base.py, audit log).
ADD = (
    COMMON
    + r"""
local now, now_iso, window, ttl, n = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local audit, rec = {}, {}
for i = 7, 6 + n, 2 do audit[ARGV[i]] = ARGV[i + 1] end
for i = 7 + n, #ARGV, 2 do rec[ARGV[i]] = ARGV[i + 1] end

local function add()
  local dkey = P .. ':delivery:' .. rec.delivery_id
  local seen = redis.call('GET', dkey)
  if seen then
    local sep = string.find(seen, '|', 1, true)
    local jid, ts = string.sub(seen, 1, sep - 1), tonumber(string.sub(seen, sep + 1))
    if ts > tonumber(now) - window and redis.call('EXISTS', jk(jid)) == 1 then
      if redis.call('HGET', jk(jid), 'state') == 'dead' then return revive(jid, now, now_iso), jid end
      return {'seen', record(jid), {}}, jid
    end
  end
  local seq = redis.call('INCR', P .. ':seq')
  rec.seq, rec.state = seq, 'queued'
  rec.lease_owner, rec.lease_until = nil, nil
  redis.call('DEL', jk(rec.id))
  for field, value in pairs(rec) do redis.call('HSET', jk(rec.id), field, value) end
  local superseded = supersede_queued(rec.key, rec.id, now, now_iso)
  redis.call('ZADD', P .. ':state:queued', seq, rec.id)
  enqueue(rec.id, rec.key, rec.priority, seq, rec.not_before)
  redis.call('SET', dkey, rec.id .. '|' .. now, 'EX', ttl)
  return {'created', record(rec.id), superseded}, rec.id
end

local answer, job_id = add()
if n > 0 then
  audit.job_id = job_id
  if answer[1] == 'seen' then audit.outcome, audit.status = 'duplicate', '200' end
  table.insert(answer, audit_add(audit))
end
return answer
"""
)

# ARGV: P, now, now_iso, lease_until, lease token, installation cap (0: none), repository limit
# (0: none), rate window seconds, rate key ttl. Answers the claimed record or false.
CLAIM = (
    COMMON
    + r"""
local now, now_iso, expiry, token, cap = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local limit, rate_window, rate_ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]

-- When the repository may start its next job: false if now (base.py, rate limit).
local function rate_allows_at(repository)
  local rk = P .. ':rate:' .. repository
  local since = tonumber(now) - rate_window
  redis.call('ZREMRANGEBYSCORE', rk, '-inf', string.format('%.17g', since))
  local nth = redis.call('ZREVRANGEBYSCORE', rk, '+inf', '(' .. string.format('%.17g', since),
    'WITHSCORES', 'LIMIT', limit - 1, 1)
  if #nth == 0 then return false end
  local allowed = tonumber(nth[2]) + rate_window
  if allowed <= tonumber(now) then return false end
  return string.format('%.17g', allowed)
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', now)) do
  local priority, seq = unpack(redis.call('HMGET', jk(id), 'priority', 'seq'))
  redis.call('ZREM', P .. ':delayed', id)
  redis.call('ZADD', P .. ':ready', string.format('%.0f', tonumber(priority) * 1e12 + tonumber(seq)), id)
  redis.call('HDEL', jk(id), 'not_before')
end
local offset = 0
while true do
  local ids = redis.call('ZRANGE', P .. ':ready', offset, offset + 99)
  if #ids == 0 then return false end
  local parked = 0
  for _, id in ipairs(ids) do
    local key, seq, inst, repository =
      unpack(redis.call('HMGET', jk(id), 'key', 'seq', 'installation_id', 'repository'))
    local free = redis.call('HEXISTS', P .. ':busy', key) == 0
    if free and cap > 0 then free = tonumber(redis.call('HGET', P .. ':inst_running', inst) or '0') < cap end
    if free and limit > 0 then
      local allowed = rate_allows_at(repository)
      if allowed then
        -- Parked until its repository may start again (it keeps its age); the next one is tried.
        redis.call('ZREM', P .. ':ready', id)
        redis.call('ZADD', P .. ':delayed', allowed, id)
        redis.call('HSET', jk(id), 'not_before', allowed)
        parked = parked + 1
        free = false
      else
        local rk = P .. ':rate:' .. repository
        redis.call('ZADD', rk, now, token)
        redis.call('ZREMRANGEBYRANK', rk, 0, -(limit + 1))
        redis.call('EXPIRE', rk, rate_ttl)
      end
    end
    if free then
      unqueue(id, key)
      redis.call('HSET', P .. ':busy', key, id)
      redis.call('HINCRBY', P .. ':inst_running', inst, 1)
      redis.call('HINCRBY', jk(id), 'attempts', 1)
      redis.call('HSET', jk(id), 'started_at', now_iso, 'lease_owner', token, 'lease_until', expiry)
      redis.call('HDEL', jk(id), 'finished_at', 'not_before')
      move_state(id, 'queued', 'running', seq)
      redis.call('ZADD', P .. ':running', expiry, id)
      return record(id)
    end
  end
  offset = offset + 100 - parked
end
"""
)

# ARGV: P, id, token, lease_until. Answers 1 when renewed.
RENEW = (
    COMMON
    + r"""
local id, token, expiry = ARGV[2], ARGV[3], ARGV[4]
if not held(id, token) then return 0 end
redis.call('HSET', jk(id), 'lease_until', expiry)
redis.call('ZADD', P .. ':running', expiry, id)
return 1
"""
)

# ARGV: P, now, now_iso, id, token, state, result, params, attempts, error present, error,
# finished_at present, finished_at, close owed present, close owed. Answers the saved record or false.
SAVE = (
    COMMON
    + r"""
local now, now_iso, id, token, state = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not held(id, token) then return false end
redis.call('HSET', jk(id), 'result', ARGV[7], 'params', ARGV[8], 'attempts', ARGV[9])
set_or_clear(id, 'error', ARGV[10], ARGV[11])
if state ~= 'running' then
  set_or_clear(id, 'finished_at', ARGV[12], ARGV[13])
  release(id, redis.call('HGET', jk(id), 'key'))
  finish(id, 'running', state, now, now_iso)
  if ARGV[14] == '1' then owe_close(id, ARGV[15], now) end
end
return record(id)
"""
)

# ARGV: P, now, now_iso, id, token, result, params, attempts, error present, error, not_before
# ('' for none). Answers the record as now stored, or false.
REQUEUE = (
    COMMON
    + r"""
local now, now_iso, id, token = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not held(id, token) then return false end
redis.call('HSET', jk(id), 'result', ARGV[6], 'params', ARGV[7], 'attempts', ARGV[8])
set_or_clear(id, 'error', ARGV[9], ARGV[10])
back_to_queue(id, now, now_iso, ARGV[11])
return record(id)
"""
)

# ARGV: P, now, now_iso, error. Answers the records of the jobs recovered.
RECOVER = (
    COMMON
    + r"""
local now, now_iso = ARGV[2], ARGV[3]
local recovered = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':running', '-inf', '(' .. now)) do
  redis.call('HSET', jk(id), 'error', ARGV[4])
  back_to_queue(id, now, now_iso, nil)
  table.insert(recovered, record(id))
end
return recovered
"""
)

# ARGV: P, now, now_iso, id. Answers {'revived', record, superseded} or false.
REVIVE = (
    COMMON
    + r"""
local now, now_iso, id = ARGV[2], ARGV[3], ARGV[4]
local state = redis.call('HGET', jk(id), 'state')
if state ~= 'dead' and state ~= 'failed' then return false end
return revive(id, now, now_iso)
"""
)

# ARGV: P, now, limit, hold until. Answers the records of finished jobs whose close is due,
# soonest first, each held (its close_due moved to `hold until`) so no other instance takes it.
CLOSES_DUE = (
    COMMON
    + r"""
local now, limit, hold = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local due = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':closes', '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZADD', P .. ':closes', hold, id)
  redis.call('HSET', jk(id), 'close_due', hold)
  table.insert(due, record(id))
end
return due
"""
)

# ARGV: P, now, id. The owed close was made: the job is an ordinary finished one from now on.
# Answers 1, or 0 when it owed nothing (closed already, by another instance perhaps).
CLOSED = (
    COMMON
    + r"""
local now, id = ARGV[2], ARGV[3]
if not redis.call('HGET', jk(id), 'close_owed') then return 0 end
forget_close(id)
redis.call('ZADD', P .. ':finished', now, id)
return 1
"""
)

# ARGV: P, id, at. The close is still owed, next due at `at`. Answers 1, or 0 if none was owed.
CLOSE_LATER = (
    COMMON
    + r"""
local id, at = ARGV[2], ARGV[3]
if not redis.call('HGET', jk(id), 'close_owed') then return 0 end
redis.call('HSET', jk(id), 'close_due', at)
redis.call('ZADD', P .. ':closes', at, id)
return 1
"""
)

# ARGV: P, age cutoff, max jobs, batch. Removes at most `batch` finished jobs (a long script
# would stall every client of the server); answers how many it removed.
PRUNE = (
    COMMON
    + r"""
local cutoff, max_jobs, batch = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local function drop(id)
  local state = redis.call('HGET', jk(id), 'state')
  if state then redis.call('ZREM', P .. ':state:' .. state, id) end
  redis.call('ZREM', P .. ':finished', id)
  redis.call('DEL', jk(id))
end
local removed = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':finished', '-inf', '(' .. cutoff, 'LIMIT', 0, batch)) do
  drop(id)
  removed = removed + 1
end
if removed < batch then
  local held = 0
  for _, state in ipairs({'queued', 'running', 'succeeded', 'failed', 'superseded', 'dead'}) do
    held = held + redis.call('ZCARD', P .. ':state:' .. state)
  end
  local excess = math.min(held - max_jobs, batch - removed)
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', P .. ':finished', 0, excess - 1)) do
      drop(id)
      removed = removed + 1
    end
  end
end
return removed
"""
)

# ARGV: P, max entries, most to trim, then one JSON entry per argument (every value a string).
# Answers the entries' seqs.
RECORD_AUDIT = (
    COMMON
    + r"""
local seqs = {}
for i = 4, #ARGV do table.insert(seqs, audit_add(cjson.decode(ARGV[i]))) end
audit_trim(tonumber(ARGV[2]), tonumber(ARGV[3]))
return seqs
"""
)

# ARGV: P, age cutoff, max entries, batch. Removes at most `batch` entries: the oldest while
# older than the cutoff, then the oldest beyond max entries; answers how many it removed.
PRUNE_AUDIT = (
    COMMON
    + r"""
local cutoff, max_entries, batch = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local removed = 0
for _, seq in ipairs(redis.call('ZRANGE', P .. ':audit:all', 0, batch - 1)) do
  local raw = redis.call('HGET', P .. ':audit:entry', seq)
  if raw and tonumber(cjson.decode(raw).at) >= cutoff then break end
  audit_drop(seq)
  removed = removed + 1
end
return removed + audit_trim(max_entries, batch - removed)
"""
)

# The scripts the store registers, by their names above.
SCRIPTS = (
    "ADD",
    "CLAIM",
    "RENEW",
    "SAVE",
    "REQUEUE",
    "RECOVER",
    "REVIVE",
    "PRUNE",
    "CLOSES_DUE",
    "CLOSED",
    "CLOSE_LATER",
    "RECORD_AUDIT",
    "PRUNE_AUDIT",
)
