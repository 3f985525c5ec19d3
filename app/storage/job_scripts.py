"""The Lua scripts that change jobs, each in one atomic step (used by ``app.storage.jobs``).

A job is three keys with one TTL: its state (a hash of short fields), its input and, once it has
finished, its output (JSON strings). Index keys are ``<prefix><owner>:<status|*>:<algorithm|*>``
(``Keys.job_index`` builds the same); webhook attempt members are ``job:series:attempt``
(``keys.attempt_member``). Indexes expire with the jobs they hold, and entries of expired jobs are
dropped whenever an index is written or read.
"""

from app.storage.keys import LUA_NOW_MS

_HELPERS = (
    LUA_NOW_MS
    + """
local function index(prefix, owner, status, algorithm)
  return {prefix .. owner .. ':*:*', prefix .. owner .. ':' .. status .. ':*',
          prefix .. owner .. ':*:' .. algorithm, prefix .. owner .. ':' .. status .. ':' .. algorithm}
end

-- Adds a job to an index, drops the entries of expired jobs there, and keeps the index alive as
-- long as its newest job.
local function add(key, score, id, ttl)
  redis.call('ZADD', key, score, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now_ms() / 1000 - ttl))
  redis.call('EXPIRE', key, math.ceil(ttl))
end

-- Moves a job from the indexes of one status to those of another.
local function move(job, id, prefix, from, to)
  local owner, algorithm, created, expires = unpack(redis.call('HMGET', job, 'owner', 'algorithm', 'created_at',
                                                              'expires_at'))
  if not owner then return end  -- stored before jobs were indexed
  local old, new = index(prefix, owner, from, algorithm), index(prefix, owner, to, algorithm)
  for i = 2, 4, 2 do
    redis.call('ZREM', old[i], id)
    add(new[i], created, id, tonumber(expires) - tonumber(created))
  end
end

-- Writes a finished job's output, to expire with the job.
local function output(job, key, data)
  local ttl = redis.call('PTTL', job)
  if ttl > 0 then redis.call('SET', key, data, 'PX', ttl) else redis.call('SET', key, data) end
end

-- A job just finished: queue its webhook's first attempt and tell the requests waiting for it.
local function finished(job, id, due, channel)
  if redis.call('HEXISTS', job, 'webhook_id') == 1 then
    local series = redis.call('HGET', job, 'webhook_series') or '1'
    redis.call('ZADD', due, now_ms(), id .. ':' .. series .. ':1')
  end
  redis.call('PUBLISH', channel, id)
end
"""
)

# KEYS: job, input, queue, queue messages, queue wake-up. ARGV: ttl, index prefix, job id, idempotency key
# or '', fingerprint, job key prefix, message id, message, wake-up tokens kept, input, state fields...
# Stores and indexes the job and queues its message (Dramatiq's layout), with a token that wakes an
# idle worker. Returns {'created'}, {'taken'} (the id is in use: draw another), {'replay', id} (same
# key, same request) or {'conflict', id} (same key, another request).
CREATE = (
    _HELPERS
    + """
local ttl, prefix, id, idempotency, fingerprint = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if idempotency ~= '' then
  local earlier = redis.call('GET', idempotency)
  if earlier then
    local space = string.find(earlier, ' ', 1, true)
    local earlier_id = string.sub(earlier, 1, space - 1)
    if redis.call('EXISTS', ARGV[6] .. earlier_id) == 1 then
      if string.sub(earlier, space + 1) ~= fingerprint then return {'conflict', earlier_id} end
      return {'replay', earlier_id}
    end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'taken'} end
redis.call('HSET', KEYS[1], unpack(ARGV, 11))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[10], 'EX', ttl)
if idempotency ~= '' then redis.call('SET', idempotency, id .. ' ' .. fingerprint, 'EX', ttl) end
local owner, algorithm, created = unpack(redis.call('HMGET', KEYS[1], 'owner', 'algorithm', 'created_at'))
for _, key in ipairs(index(prefix, owner, 'pending', algorithm)) do add(key, created, id, ttl) end
redis.call('HSET', KEYS[4], ARGV[7], ARGV[8])
redis.call('RPUSH', KEYS[3], ARGV[7])
redis.call('LPUSH', KEYS[5], '1')
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[9]) - 1)
return {'created'}
"""
)

# KEYS: job, due, input, output. ARGV: job id, max attempts, give-up error, now, index prefix, channel.
# pending|running → running, one more attempt (a run cut short by a crash is run again); → cancelled
# if that was asked; → failed after max attempts. A finished job is left alone.
# Returns the previous status, the state fields, the input and the output.
START = (
    _HELPERS
    + """
local id, now, prefix, channel = ARGV[1], ARGV[4], ARGV[5], ARGV[6]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == 'pending' or status == 'running' then
  if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then
    redis.call('HSET', KEYS[1], 'status', 'cancelled', 'completed_at', now)
    move(KEYS[1], id, prefix, status, 'cancelled')
    finished(KEYS[1], id, KEYS[2], channel)
  elseif tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') >= tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], 'status', 'failed', 'completed_at', now)
    output(KEYS[1], KEYS[4], cjson.encode({error = ARGV[3]}))
    move(KEYS[1], id, prefix, status, 'failed')
    finished(KEYS[1], id, KEYS[2], channel)
  else
    redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', now)
    redis.call('HINCRBY', KEYS[1], 'attempts', 1)
    if status == 'pending' then move(KEYS[1], id, prefix, 'pending', 'running') end
  end
end
return {status, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
"""
)

# KEYS: job, due, output[, worker's acks, queue messages]. ARGV: job id, index prefix, channel, status,
# completed at, output[, message id]. running → completed|failed|cancelled; anything else is left
# alone: status never moves backwards. With the last keys, acknowledges the job's message (as
# Dramatiq's ack does) whatever the status was.
FINISH = (
    _HELPERS
    + """
if KEYS[4] and redis.call('SREM', KEYS[4], ARGV[7]) == 1 then redis.call('HDEL', KEYS[5], ARGV[7]) end
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'completed_at', ARGV[5])
output(KEYS[1], KEYS[3], ARGV[6])
move(KEYS[1], ARGV[1], ARGV[2], 'running', ARGV[4])
finished(KEYS[1], ARGV[1], KEYS[2], ARGV[3])
return 1
"""
)

# KEYS: job, input, output, webhook log. Returns {state fields, input, output, log}: the whole job in
# one command (cheaper for the client than a pipeline of four).
GET = """
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]),
        redis.call('LRANGE', KEYS[4], 0, -1)}
"""

# KEYS: job, due. ARGV: job id, owner, now, index prefix, channel.
# pending → cancelled at once; running → asked to stop; returns what happened, or why nothing did.
CANCEL = (
    _HELPERS
    + """
local status, owner = unpack(redis.call('HMGET', KEYS[1], 'status', 'owner'))
if not status or (owner or '_') ~= ARGV[2] then return 'not_found' end
if status == 'pending' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'completed_at', ARGV[3])
  move(KEYS[1], ARGV[1], ARGV[4], 'pending', 'cancelled')
  finished(KEYS[1], ARGV[1], KEYS[2], ARGV[5])
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1')
  return 'requested'
end
return 'finished'
"""
)

# KEYS: index. ARGV: job key prefix, webhook log suffix, max score, min score, cursor id or '',
# cursor score, limit, ttl, input suffix, output suffix. Newest first, after the cursor. Entries of
# expired jobs are dropped first; at most SCAN_LIMIT entries are read, so a call costs O(limit)
# whatever the index holds. Returns {more, last id read, its score, then for each job: id, state
# fields, input, output, webhook log}.
PAGE = (
    LUA_NOW_MS
    + """
local key, prefix, log_suffix, max, min, after, after_score = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  ARGV[5], ARGV[6]
local limit, ttl, input_suffix, output_suffix = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], ARGV[10]
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now_ms() / 1000 - ttl))
local scan_limit = 10 * limit + 50
local out, found, read, offset, more, gone = {0, '', ''}, 0, 0, 0, 0, {}
while more == 0 do
  local entries = redis.call('ZREVRANGEBYSCORE', key, max, min, 'WITHSCORES', 'LIMIT', offset, limit + 1)
  for i = 1, #entries, 2 do
    local id, score = entries[i], entries[i + 1]
    if not (after ~= '' and tonumber(score) == tonumber(after_score) and id >= after) then
      if found == limit or read == scan_limit then
        more = 1
        break
      end
      read = read + 1
      out[2], out[3] = id, score
      local fields = redis.call('HGETALL', prefix .. id)
      if #fields == 0 then
        table.insert(gone, id)
      else
        found = found + 1
        table.insert(out, id)
        table.insert(out, fields)
        table.insert(out, redis.call('GET', prefix .. id .. input_suffix) or '')
        table.insert(out, redis.call('GET', prefix .. id .. output_suffix) or '')
        table.insert(out, redis.call('LRANGE', prefix .. id .. log_suffix, 0, -1))
      end
    end
  end
  if #entries < 2 * (limit + 1) then break end
  offset = offset + limit + 1
end
for _, id in ipairs(gone) do redis.call('ZREM', key, id) end
out[1] = more
return out
"""
)
