"""The Lua scripts that change jobs, each one atomic step (used by ``app.storage.jobs``).

A job is the keys of ``keys.JobKeys`` with one TTL: its state (a hash of short fields), its input
and, once it has finished, its output (JSON strings), and its webhook log. Index keys are
``<prefix><owner>:<status|*>:<algorithm|*>`` (``Keys.job_index`` builds the same). Indexes expire
with the jobs they hold, and entries of expired jobs are dropped whenever an index is written or
read. The scripts include the queue library (``queue.QUEUE_LUA``): a job's run message (id: the
job id) is queued, acknowledged or given back in the same step as the job's state changes, and a
finished job's webhook message is queued in the step that finishes it.
"""

from app.storage.keys import JobKeys, QueueKeys
from app.storage.queue import DEFAULT_PRIORITY, QUEUE_LUA
from app.storage.scripts import Signature, group

JOB = group("job", JobKeys)
JOBS_QUEUE = group("jobs", QueueKeys)
WEBHOOKS_QUEUE = group("webhooks", QueueKeys)

LIBRARY = (
    QUEUE_LUA
    + f"""
local function index(prefix, owner, status, algorithm)
  return {{prefix .. owner .. ':*:*', prefix .. owner .. ':' .. status .. ':*',
          prefix .. owner .. ':*:' .. algorithm, prefix .. owner .. ':' .. status .. ':' .. algorithm}}
end

-- Adds a job to an index, drops the entries of expired jobs there, and keeps the index alive as
-- long as its newest job.
local function add(key, score, id, ttl)
  redis.call('ZADD', key, score, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (q_now() / 1000 - ttl))
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
local function output(jk, data)
  local ttl = redis.call('PTTL', jk.state)
  if ttl > 0 then redis.call('SET', jk.output, data, 'PX', ttl) else redis.call('SET', jk.output, data) end
end

-- A job just finished: queue its webhook's delivery and tell the requests waiting for it.
local function finished(jk, webhooks, id, channel, webhook_message_id, webhook_message)
  if redis.call('HEXISTS', jk.state, 'webhook_id') == 1 then
    q_enqueue(webhooks, webhook_message_id, webhook_message, {DEFAULT_PRIORITY}, 0)
  end
  redis.call('PUBLISH', channel, id)
end

local function is_finished(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end
"""
)

CREATE_SIGNATURE = Signature(
    keys=(JOB, JOBS_QUEUE),
    args=(
        "ttl",
        "index_prefix",
        "id",
        "idempotency",
        "fingerprint",
        "job_prefix",
        "message",
        "priority",
        "delay_ms",
        "input",
    ),
    variadic=True,  # the state fields, name and value in turn
)
# Stores and indexes the job and queues its run message. Returns {'created'}, {'taken'} (the id is
# in use: draw another), {'replay', id} (same key, same request) or {'conflict', id} (same key,
# another request).
CREATE = """
local ttl, id = tonumber(A.ttl), A.id
if A.idempotency ~= '' then
  local earlier = redis.call('GET', A.idempotency)
  if earlier then
    local space = string.find(earlier, ' ', 1, true)
    local earlier_id = string.sub(earlier, 1, space - 1)
    if redis.call('EXISTS', A.job_prefix .. earlier_id) == 1 then
      if string.sub(earlier, space + 1) ~= A.fingerprint then return {'conflict', earlier_id} end
      return {'replay', earlier_id}
    end
  end
end
if redis.call('EXISTS', K.job.state) == 1 then return {'taken'} end
redis.call('HSET', K.job.state, unpack(A.rest))
redis.call('EXPIRE', K.job.state, ttl)
redis.call('SET', K.job.input, A.input, 'EX', ttl)
if A.idempotency ~= '' then redis.call('SET', A.idempotency, id .. ' ' .. A.fingerprint, 'EX', ttl) end
local owner, algorithm, created = unpack(redis.call('HMGET', K.job.state, 'owner', 'algorithm', 'created_at'))
for _, key in ipairs(index(A.index_prefix, owner, 'pending', algorithm)) do add(key, created, id, ttl) end
q_enqueue(K.jobs, id, A.message, A.priority, A.delay_ms)
return {'created'}
"""

START_SIGNATURE = Signature(
    keys=(JOB, WEBHOOKS_QUEUE),
    args=(
        "id",
        "max_attempts",
        "give_up_error",
        "now",
        "index_prefix",
        "channel",
        "webhook_id",
        "webhook",
        "worker_host",
    ),
)
# pending|running → running, one more attempt (a run cut short by a crash counts), on worker_host;
# → cancelled if that was asked; → failed after max attempts. A finished job is left alone. Returns
# the previous status, the state fields, the input and the output.
START = """
local jk, id, now = K.job, A.id, A.now
local status = redis.call('HGET', jk.state, 'status')
if not status then return false end
if status == 'pending' or status == 'running' then
  if redis.call('HGET', jk.state, 'cancel_requested') == '1' then
    redis.call('HSET', jk.state, 'status', 'cancelled', 'completed_at', now)
    move(jk.state, id, A.index_prefix, status, 'cancelled')
    finished(jk, K.webhooks, id, A.channel, A.webhook_id, A.webhook)
  elseif tonumber(redis.call('HGET', jk.state, 'attempts') or '0') >= tonumber(A.max_attempts) then
    redis.call('HSET', jk.state, 'status', 'failed', 'completed_at', now)
    output(jk, cjson.encode({error = A.give_up_error}))
    move(jk.state, id, A.index_prefix, status, 'failed')
    finished(jk, K.webhooks, id, A.channel, A.webhook_id, A.webhook)
  else
    redis.call('HSET', jk.state, 'status', 'running', 'started_at', now, 'worker_host', A.worker_host)
    redis.call('HINCRBY', jk.state, 'attempts', 1)
    if status == 'pending' then move(jk.state, id, A.index_prefix, 'pending', 'running') end
  end
end
return {status, redis.call('HGETALL', jk.state), redis.call('GET', jk.input), redis.call('GET', jk.output)}
"""

FINISH_SIGNATURE = Signature(
    keys=(JOB, JOBS_QUEUE, WEBHOOKS_QUEUE),
    args=("id", "attempt", "index_prefix", "channel", "status", "now", "output", "webhook_id", "webhook", "delivery"),
)
# running (this attempt) → completed|failed|cancelled, and its run message acknowledged. A later
# attempt, or a job no longer running, is left alone: status never moves backwards and a terminal
# state is written once. Returns 1 when recorded.
FINISH = """
local jk, id = K.job, A.id
q_ack(K.jobs, id, A.delivery)
local status, attempts = unpack(redis.call('HMGET', jk.state, 'status', 'attempts'))
if status ~= 'running' or attempts ~= A.attempt then return 0 end
redis.call('HSET', jk.state, 'status', A.status, 'completed_at', A.now)
output(jk, A.output)
move(jk.state, id, A.index_prefix, 'running', A.status)
finished(jk, K.webhooks, id, A.channel, A.webhook_id, A.webhook)
return 1
"""

REQUEUE_SIGNATURE = Signature(keys=(JOB, JOBS_QUEUE), args=("id", "attempt", "index_prefix", "count", "delivery"))
# A run cut short (its worker stopping, its process killed): running (this attempt) → pending, its
# message deliverable again at the front of its priority; the attempt is given back unless ``count``
# is '1'. Returns 1, or 0 when the job had moved on (a finished job's message is acknowledged).
REQUEUE = """
local jk, id = K.job, A.id
local status, attempts = unpack(redis.call('HMGET', jk.state, 'status', 'attempts'))
if is_finished(status) then
  q_ack(K.jobs, id, A.delivery)
  return 0
end
if status ~= 'running' or attempts ~= A.attempt then return 0 end
redis.call('HSET', jk.state, 'status', 'pending')
redis.call('HDEL', jk.state, 'started_at')
if A.count ~= '1' then redis.call('HINCRBY', jk.state, 'attempts', -1) end
move(jk.state, id, A.index_prefix, 'running', 'pending')
q_release(K.jobs, id, A.delivery, 0, true)
return 1
"""

GET_SIGNATURE = Signature(keys=(JOB,), args=())
# The whole job in one command (cheaper for the client than a pipeline of four).
GET = """
return {redis.call('HGETALL', K.job.state), redis.call('GET', K.job.input), redis.call('GET', K.job.output),
        redis.call('LRANGE', K.job.webhook_log, 0, -1)}
"""

CANCEL_SIGNATURE = Signature(
    keys=(JOB, JOBS_QUEUE, WEBHOOKS_QUEUE),
    args=("id", "owner", "now", "index_prefix", "channel", "webhook_id", "webhook"),
)
# pending → cancelled at once (its run message dropped); running → asked to stop; returns what
# happened, or why nothing did.
CANCEL = """
local jk, id = K.job, A.id
local status, owner = unpack(redis.call('HMGET', jk.state, 'status', 'owner'))
if not status or (owner or '_') ~= A.owner then return 'not_found' end
if status == 'pending' then
  redis.call('HSET', jk.state, 'status', 'cancelled', 'completed_at', A.now)
  move(jk.state, id, A.index_prefix, 'pending', 'cancelled')
  q_remove(K.jobs, id)
  finished(jk, K.webhooks, id, A.channel, A.webhook_id, A.webhook)
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', jk.state, 'cancel_requested', '1')
  return 'requested'
end
return 'finished'
"""

PAGE_SIGNATURE = Signature(
    keys=("index",),
    args=(
        "job_prefix",
        "log_suffix",
        "max",
        "min",
        "after",
        "after_score",
        "limit",
        "ttl",
        "input_suffix",
        "output_suffix",
    ),
)
# Newest first, after the cursor. Entries of expired jobs are dropped first; at most a bounded
# number of entries are read, so a call costs O(limit) whatever the index holds. Returns {more, last
# id read, its score, then for each job: id, state fields, input, output, webhook log}.
PAGE = """
local key, prefix, after, after_score = K.index, A.job_prefix, A.after, A.after_score
local limit, ttl = tonumber(A.limit), tonumber(A.ttl)
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (q_now() / 1000 - ttl))
local scan_limit = 10 * limit + 50
local out, found, read, offset, more, gone = {0, '', ''}, 0, 0, 0, 0, {}
while more == 0 do
  local entries = redis.call('ZREVRANGEBYSCORE', key, A.max, A.min, 'WITHSCORES', 'LIMIT', offset, limit + 1)
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
        table.insert(out, redis.call('GET', prefix .. id .. A.input_suffix) or '')
        table.insert(out, redis.call('GET', prefix .. id .. A.output_suffix) or '')
        table.insert(out, redis.call('LRANGE', prefix .. id .. A.log_suffix, 0, -1))
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
