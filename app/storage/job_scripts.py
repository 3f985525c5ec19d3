"""The Lua scripts that change jobs and batches, each one atomic step (used by ``app.storage.jobs``).

A job is the keys of ``keys.JobKeys`` with one TTL: its state (a hash of short fields), its input
and, once it has finished, its output (JSON strings), its webhook log and its attempt history.
Index keys are ``<prefix><owner>:<status|*>:<algorithm|*>`` (``Keys.job_index`` builds the same);
entries of expired jobs are dropped as indexes are written and read. Scheduled jobs are also in
one sorted set by due time, so that any script can turn those whose time came into pending ones
(``promote``), a few at a time. A job of a batch keeps its batch's counters right as it moves.

The scripts include the queue library (``queue.QUEUE_LUA``): a job's run message (id: the job id)
is queued, acknowledged or given back in the same step as the job's state changes, and a finished
job's (or batch's) webhook message is queued in the step that finishes it. Every script binds
``C``, the context its helpers need (``context``).
"""

from app.storage.events import EVENTS_LUA
from app.storage.keys import BatchKeys, JobKeys, QueueKeys
from app.storage.queue import DEFAULT_PRIORITY, QUEUE_LUA
from app.storage.scripts import Signature, group
from app.storage.stats import STATS_LUA

JOB = group("job", JobKeys)
BATCH = group("batch", BatchKeys)
JOBS_QUEUE = group("jobs", QueueKeys)
WEBHOOKS_QUEUE = group("webhooks", QueueKeys)
#: Arguments every job script takes, bound into ``C`` by ``CONTEXT``.
CONTEXT_ARGS = (
    "index_prefix",
    "scheduled",
    "batch_prefix",
    "channel",
    "history_limit",
    "retention",
    "pending",
    "running",
    "watched",
    "events",
    "owners",
    "stats",
)

#: Lua for listings (jobs, batches): read after ``C`` is bound.
LISTING_LUA = """
-- The owners whose indexes a listing reads: ``owner``, or every owner ('' asked: an admin's view).
-- With ``tidy``, owners whose ``<prefix><owner><suffix>`` index is gone (all their entries were) are forgotten.
local function owners_of(owner, tidy, prefix, suffix)
  if owner ~= '' then return {owner} end
  local owners = {}
  for _, candidate in ipairs(redis.call('SMEMBERS', C.owners)) do
    if tidy and redis.call('EXISTS', prefix .. candidate .. suffix) == 0 then redis.call('SREM', C.owners, candidate)
    else table.insert(owners, candidate) end
  end
  return owners
end

-- Walks the sorted sets ``keys`` (each scored by creation time, Unix seconds) merged, newest first
-- (ties: greater member first), scores from max down to min, after the cursor (after, after_score:
-- the last entry of the previous page), calling visit(id) for each until ``limit`` visits found
-- something (visit returns false for an entry whose record is gone: it is dropped). Entries past any
-- record's life are dropped first; at most 10 × limit + 50 entries are read, so a call costs O(limit)
-- per key. Returns more (1: call again from the last entry read), the last id read, its score.
local function newest_first(keys, max, min, after, after_score, limit, visit)
  local oldest = '(' .. (q_now() / 1000 - C.retention)
  after_score = tonumber(after_score)
  local streams = {}
  for _, key in ipairs(keys) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', oldest)
    table.insert(streams, {key = key, buffer = {}, next = 1, offset = 0, done = false})
  end
  -- The stream's next entry {id, score, score as stored} after the cursor, or nil.
  local function head(stream)
    while stream.next > #stream.buffer do
      if stream.done then return nil end
      local entries = redis.call('ZREVRANGEBYSCORE', stream.key, max, min, 'WITHSCORES', 'LIMIT', stream.offset,
                                 limit + 1)
      stream.offset = stream.offset + #entries / 2
      stream.done = #entries < 2 * (limit + 1)
      stream.buffer, stream.next = {}, 1
      for i = 1, #entries, 2 do
        local id, score = entries[i], tonumber(entries[i + 1])
        if not (after ~= '' and score == after_score and id >= after) then
          table.insert(stream.buffer, {id, score, entries[i + 1]})
        end
      end
    end
    return stream.buffer[stream.next]
  end
  local scan_limit = 10 * limit + 50
  local found, read, more, last_id, last_score, gone = 0, 0, 0, '', '', {}
  while true do
    local best, entry = nil, nil
    for _, stream in ipairs(streams) do
      local candidate = head(stream)
      if candidate and (not entry or candidate[2] > entry[2] or (candidate[2] == entry[2] and candidate[1] > entry[1]))
      then best, entry = stream, candidate end
    end
    if not best then break end
    if found == limit or read == scan_limit then
      more = 1
      break
    end
    best.next = best.next + 1
    read = read + 1
    last_id, last_score = entry[1], entry[3]
    if visit(entry[1]) then found = found + 1 else table.insert(gone, {best.key, entry[1]}) end
  end
  for _, dropped in ipairs(gone) do redis.call('ZREM', dropped[1], dropped[2]) end
  return more, last_id, last_score
end
"""

LIBRARY = (
    QUEUE_LUA
    + STATS_LUA
    + EVENTS_LUA
    + f"""
local C = {{prefix = A.index_prefix, scheduled = A.scheduled, batch_prefix = A.batch_prefix, channel = A.channel,
           history_limit = tonumber(A.history_limit), retention = tonumber(A.retention), webhooks = K.webhooks,
           pending = A.pending, running = A.running, watched = A.watched, events = A.events, owners = A.owners,
           stats = A.stats, tidied = {{}}, changed = {{}}}}

local function index(owner, status, algorithm)
  local prefix = C.prefix
  return {{prefix .. owner .. ':*:*', prefix .. owner .. ':' .. status .. ':*',
          prefix .. owner .. ':*:' .. algorithm, prefix .. owner .. ':' .. status .. ':' .. algorithm}}
end

local function is_finished(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end

-- Adds a job to an index and keeps the index alive as long as this job. Entries are dropped: all
-- those older than any job lives (C.retention: the TTL plus the scheduling horizon), and a few
-- older than this job's life whose job is gone (a job scheduled far ahead lives longer, and stays).
local function add(key, score, id, job_prefix, ttl)
  redis.call('ZADD', key, score, id)
  if C.tidied[key] then return end  -- once per index and script: a batch adds a thousand jobs to it
  C.tidied[key] = true
  local now = q_now() / 1000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - C.retention))
  local old = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. (now - ttl), 'LIMIT', 0, 3)
  for _, old_id in ipairs(old) do
    if redis.call('EXISTS', job_prefix .. old_id) == 0 then redis.call('ZREM', key, old_id) end
  end
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, math.ceil(ttl)) end
end

-- The key of a batch's state, from its id.
local function batch_key(batch) return C.batch_prefix .. batch end

-- A batch's job moved from one status to another: its counters follow; when every job has ended,
-- the batch ends: its webhook message (stored at creation) is queued.
local function count_in_batch(batch, from, to)
  local key = batch_key(batch)
  if redis.call('EXISTS', key) == 0 then return end
  if from then redis.call('HINCRBY', key, 'n_' .. from, -1) end
  redis.call('HINCRBY', key, 'n_' .. to, 1)
  if not is_finished(to) then return end
  local total, completed, failed, cancelled, ended_at = unpack(redis.call('HMGET', key, 'total', 'n_completed',
    'n_failed', 'n_cancelled', 'completed_at'))
  if ended_at then return end
  if tonumber(completed or 0) + tonumber(failed or 0) + tonumber(cancelled or 0) < tonumber(total) then return end
  redis.call('HSET', key, 'completed_at', q_now() / 1000)
  local message_id, message = unpack(redis.call('HMGET', key, 'webhook_message_id', 'webhook_message'))
  if message_id then
    q_enqueue(C.webhooks, message_id, message, {DEFAULT_PRIORITY}, 0)
    redis.call('HDEL', key, 'webhook_message')
  end
  redis.call('PUBLISH', C.channel, 'batch:' .. batch)
end

-- The job changed (once per script): its version goes up, and if someone streams its events
-- (C.watched), its id is announced on C.events.
local function changed(jk, id)
  if C.changed[id] then return end
  C.changed[id] = true
  e_changed(jk.state, id, C.watched, C.events)
end

-- Keeps the cluster-wide sets of pending and running jobs (the gauges' source) in step.
local function track(id, from, to)
  if from == 'pending' then redis.call('ZREM', C.pending, id)
  elseif from == 'running' then redis.call('ZREM', C.running, id) end
  if to == 'pending' then redis.call('ZADD', C.pending, q_now(), id)
  elseif to == 'running' then redis.call('ZADD', C.running, q_now(), id) end
end

-- Counts a job's end (or a failed run to retry) in the jobs queue's recent activity; run time from
-- its start to ``now`` (Unix seconds), when it ran.
local function count_run(jk, outcome, now)
  local started = redis.call('HGET', jk.state, 'started_at')
  local run_ms = nil
  if started and now then run_ms = math.max(0, (tonumber(now) - tonumber(started)) * 1000) end
  s_count(C.stats, 'jobs', outcome, run_ms)
end

-- Moves a job from the indexes (and its batch's counter) of one status to those of another.
local function move(jk, id, from, to)
  redis.call('HSET', jk.state, 'status', to)
  track(id, from, to)
  changed(jk, id)
  local owner, algorithm, created, expires, batch = unpack(redis.call('HMGET', jk.state, 'owner', 'algorithm',
    'created_at', 'expires_at', 'batch'))
  if batch then count_in_batch(batch, from, to) end
  if not owner then return end  -- stored before jobs were indexed
  local old, new = index(owner, from, algorithm), index(owner, to, algorithm)
  local job_prefix = string.sub(jk.state, 1, #jk.state - #id)
  for i = 2, 4, 2 do
    redis.call('ZREM', old[i], id)
    add(new[i], created, id, job_prefix, tonumber(expires) - tonumber(created))
  end
end

-- Writes a finished job's output, to expire with the job.
local function output(jk, data)
  local ttl = redis.call('PTTL', jk.state)
  if ttl > 0 then redis.call('SET', jk.output, data, 'PX', ttl) else redis.call('SET', jk.output, data) end
end

-- Keeps a run that did not end the job in its history (the newest history_limit).
local function remember(jk, entry)
  redis.call('RPUSH', jk.attempts, cjson.encode(entry))
  redis.call('LTRIM', jk.attempts, -C.history_limit, -1)
  local ttl = redis.call('PTTL', jk.state)
  if ttl > 0 then redis.call('PEXPIRE', jk.attempts, ttl) end
end

-- A job just finished: queue its webhook's delivery and tell the requests waiting for it. Callers
-- pass the message of series 1 (``messages.webhook_message``); a job run again after it had ended
-- (a retry) has a later series, which the message is rewritten for: args[2] and the id name it.
local function finished(jk, id, webhook_message_id, webhook_message)
  if redis.call('HEXISTS', jk.state, 'webhook_id') == 1 then
    local series = tonumber(redis.call('HGET', jk.state, 'webhook_series') or '1')
    if series ~= 1 then
      local message = cjson.decode(webhook_message)
      message.args[2] = series
      message.message_id = id .. ':' .. series
      webhook_message_id, webhook_message = message.message_id, cjson.encode(message)
    end
    q_enqueue(C.webhooks, webhook_message_id, webhook_message, {DEFAULT_PRIORITY}, 0)
  end
  redis.call('PUBLISH', C.channel, id)
end

-- What an Idempotency-Key made earlier (its record still there, under prefix): {"replay", id} for
-- the same request (fingerprint), {"conflict", id} for another; nil when nothing or no key.
local function made_before(idempotency, fingerprint, prefix)
  if idempotency == '' then return nil end
  local earlier = redis.call('GET', idempotency)
  if not earlier then return nil end
  local space = string.find(earlier, ' ', 1, true)
  local earlier_id = string.sub(earlier, 1, space - 1)
  if redis.call('EXISTS', prefix .. earlier_id) == 0 then return nil end
  if string.sub(earlier, space + 1) ~= fingerprint then return {{'conflict', earlier_id}} end
  return {{'replay', earlier_id}}
end

-- Stores a new job (state fields, input), indexes it and queues its run message, deliverable at due_ms
-- (server clock), or delay_ms from now, or now; a job not deliverable now is scheduled until then.
-- ``quiet``: no wake-up published (a batch publishes one for all its jobs).
local function create(jk, id, fields, input, message, priority, due_ms, delay_ms, ttl, job_prefix, quiet)
  redis.call('HSET', jk.state, unpack(fields))
  local due = tonumber(due_ms)
  if tonumber(delay_ms) > 0 then due = q_now() + tonumber(delay_ms) end
  if due > q_now() then redis.call('HSET', jk.state, 'status', 'scheduled', 'next_run_at', due / 1000) end
  ttl = tonumber(ttl)
  redis.call('EXPIRE', jk.state, ttl)
  redis.call('SET', jk.input, input, 'EX', ttl)
  local owner, algorithm, created, status = unpack(redis.call('HMGET', jk.state, 'owner', 'algorithm',
    'created_at', 'status'))
  for _, key in ipairs(index(owner, status, algorithm)) do add(key, created, id, job_prefix, ttl) end
  if not C.owners_added then
    redis.call('SADD', C.owners, owner)
    C.owners_added = true
  end
  if status == 'scheduled' then redis.call('ZADD', C.scheduled, due, id) else track(id, nil, status) end
  q_enqueue_at(K.jobs, id, message, priority, due, quiet)
  return status
end

-- Scheduled jobs whose time has come become pending (at most 100 per call: any script calls this).
local function promote(job_prefix)
  local now = q_now()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', C.scheduled, '-inf', now, 'LIMIT', 0, 100)) do
    redis.call('ZREM', C.scheduled, id)
    local jk = {{state = job_prefix .. id}}
    if redis.call('HGET', jk.state, 'status') == 'scheduled' then move(jk, id, 'scheduled', 'pending') end
  end
end
"""
    + LISTING_LUA
)


def context(*keys: object) -> tuple:
    """The key specs of a script: ``keys``, plus the webhook queue (every job script may finish a
    job or a batch and so queue a webhook)."""
    return (*keys, WEBHOOKS_QUEUE)


CREATE_SIGNATURE = Signature(
    keys=context(JOB, JOBS_QUEUE),
    args=(
        *CONTEXT_ARGS,
        "ttl",
        "id",
        "idempotency",
        "fingerprint",
        "job_prefix",
        "message",
        "priority",
        "due_ms",
        "delay_ms",
        "input",
    ),
    variadic=True,  # the state fields, name and value in turn
)
# Stores and indexes the job and queues its run message, deliverable at due_ms (server clock), or
# delay_ms from now, or now (both 0); a job not deliverable now is scheduled until then. Returns
# {'created'}, {'taken'} (the id is in use: draw another), {'replay', id} (same key, same request)
# or {'conflict', id} (same key, another request).
CREATE = """
local jk, id = K.job, A.id
local made = made_before(A.idempotency, A.fingerprint, A.job_prefix)
if made then return made end
if redis.call('EXISTS', jk.state) == 1 then return {'taken'} end
create(jk, id, A.rest, A.input, A.message, A.priority, A.due_ms, A.delay_ms, A.ttl, A.job_prefix)
if A.idempotency ~= '' then redis.call('SET', A.idempotency, id .. ' ' .. A.fingerprint, 'EX', A.ttl) end
promote(A.job_prefix)
return {'created'}
"""

START_SIGNATURE = Signature(
    keys=context(JOB, JOBS_QUEUE),
    args=(
        *CONTEXT_ARGS,
        "id",
        "max_crashes",
        "give_up_error",
        "now",
        "webhook_id",
        "webhook",
        "worker_host",
        "delivery",
    ),
)
# A job taken from the queue: scheduled|pending|running → running, one more attempt. One found
# running was cut short by a crash: that counts (kept in its history); after max_crashes it is
# failed instead. One whose cancellation was asked is cancelled. A finished job is left alone.
# Returns the previous status, the state fields, the input, the output and the history; {'lost'}
# when ``delivery`` (if given) no longer holds the job's run message (its lease ran out and another
# worker may have it: this one must not take the job over).
START = """
local jk, id, now = K.job, A.id, A.now
if A.delivery ~= '' and not q_holds(K.jobs, id, A.delivery) then return {'lost'} end
local status = redis.call('HGET', jk.state, 'status')
if not status then  -- gone (expired while it waited): nothing of it may linger in the gauges
  track(id, 'pending', nil)
  track(id, 'running', nil)
  return false
end
if status == 'scheduled' or status == 'pending' or status == 'running' then
  if status == 'scheduled' then redis.call('ZREM', C.scheduled, id) end
  if status == 'running' then
    local crashes = redis.call('HINCRBY', jk.state, 'crashes', 1)
    local attempt, started = unpack(redis.call('HMGET', jk.state, 'attempts', 'started_at'))
    remember(jk, {attempt = tonumber(attempt), started_at = tonumber(started), ended_at = cjson.null,
                  outcome = 'crashed', error = cjson.null})
  end
  if redis.call('HGET', jk.state, 'cancel_requested') == '1' then
    redis.call('HSET', jk.state, 'completed_at', now)
    s_count(C.stats, 'jobs', 'x', nil)
    move(jk, id, status, 'cancelled')
    finished(jk, id, A.webhook_id, A.webhook)
  elseif tonumber(redis.call('HGET', jk.state, 'crashes') or '0') >= tonumber(A.max_crashes) then
    redis.call('HSET', jk.state, 'completed_at', now)
    output(jk, cjson.encode({error = A.give_up_error}))
    s_count(C.stats, 'jobs', 'f', nil)
    move(jk, id, status, 'failed')
    finished(jk, id, A.webhook_id, A.webhook)
  else
    redis.call('HSET', jk.state, 'started_at', now, 'worker_host', A.worker_host)
    redis.call('HDEL', jk.state, 'next_run_at')
    redis.call('DEL', jk.progress)  -- a new run reports its own
    redis.call('HINCRBY', jk.state, 'attempts', 1)
    if status ~= 'running' then move(jk, id, status, 'running')
    else
      track(id, 'running', 'running')  -- its run starts again now
      changed(jk, id)
    end
  end
end
return {status, redis.call('HGETALL', jk.state), redis.call('GET', jk.input), redis.call('GET', jk.output),
        redis.call('LRANGE', jk.attempts, 0, -1)}
"""

FINISH_SIGNATURE = Signature(
    keys=context(JOB, JOBS_QUEUE),
    args=(
        *CONTEXT_ARGS,
        "id",
        "attempt",
        "status",
        "now",
        "output",
        "webhook_id",
        "webhook",
        "delivery",
        "retry_in_ms",
        "ttl",
        "entry",
        "worker_host",
    ),
)
# This attempt of a running job ended. With retry_in_ms >= 0 (a failed run to retry), the job is
# scheduled again: its attempt joins the history and its run message goes back to the queue, due
# then (the job lives at least a ttl after that). Otherwise it is completed|failed|cancelled and
# its run message acknowledged. A later attempt, or a job no longer running, is left alone: status
# never moves backwards and a final state is written once. Returns 1 when recorded, 2 when this
# very outcome of this run (same attempt, status and worker host) was recorded before (a try whose
# answer a broken connection lost, sent again), 0 otherwise.
FINISH = """
local jk, id = K.job, A.id
local status, attempts, host = unpack(redis.call('HMGET', jk.state, 'status', 'attempts', 'worker_host'))
if status ~= 'running' or attempts ~= A.attempt then
  q_ack(K.jobs, id, A.delivery)
  if status == A.status and attempts == A.attempt and (host or '') == A.worker_host then return 2 end
  return 0
end
local retry_in = tonumber(A.retry_in_ms)
if retry_in >= 0 then
  local due = q_now() + retry_in
  count_run(jk, 'r', A.now)
  remember(jk, cjson.decode(A.entry))
  redis.call('HSET', jk.state, 'next_run_at', due / 1000)
  local ttl_ms = retry_in + tonumber(A.ttl) * 1000
  if redis.call('PTTL', jk.state) < ttl_ms then
    for _, key in ipairs({jk.state, jk.input, jk.attempts, jk.webhook_log, jk.progress}) do
      redis.call('PEXPIRE', key, ttl_ms)
    end
    redis.call('HSET', jk.state, 'expires_at', (q_now() + ttl_ms) / 1000)
  end
  move(jk, id, 'running', 'scheduled')
  redis.call('ZADD', C.scheduled, due, id)
  if q_release_at(K.jobs, id, A.delivery, due) == 0 then
    local data = redis.call('HGET', K.jobs.messages, id)  -- our lease was lost: queue the run anew
    if data then q_enqueue_at(K.jobs, id, data, redis.call('HGET', K.jobs.priorities, id) or 5, due) end
  end
  return 1
end
q_ack(K.jobs, id, A.delivery)
redis.call('HSET', jk.state, 'completed_at', A.now)
output(jk, A.output)
count_run(jk, ({completed = 'c', failed = 'f', cancelled = 'x'})[A.status], A.now)
move(jk, id, 'running', A.status)
finished(jk, id, A.webhook_id, A.webhook)
return 1
"""

REQUEUE_SIGNATURE = Signature(keys=context(JOB, JOBS_QUEUE), args=(*CONTEXT_ARGS, "id", "attempt", "count", "delivery"))
# A run cut short (its worker stopping, its algorithm process killed): running (this attempt) →
# pending, its message deliverable again at the front of its priority. ``count`` '1': the run
# counts as a crash (kept in the history); else its attempt is given back. Returns 1, or 0 when
# the job had moved on (a finished job's message is acknowledged).
REQUEUE = """
local jk, id = K.job, A.id
local status, attempts, started = unpack(redis.call('HMGET', jk.state, 'status', 'attempts', 'started_at'))
if is_finished(status) then
  q_ack(K.jobs, id, A.delivery)
  return 0
end
if status ~= 'running' or attempts ~= A.attempt then return 0 end
redis.call('HDEL', jk.state, 'started_at')
if A.count == '1' then
  redis.call('HINCRBY', jk.state, 'crashes', 1)
  remember(jk, {attempt = tonumber(attempts), started_at = tonumber(started), ended_at = q_now() / 1000,
                outcome = 'crashed', error = cjson.null})
else
  redis.call('HINCRBY', jk.state, 'attempts', -1)
end
move(jk, id, 'running', 'pending')
q_release(K.jobs, id, A.delivery, 0, true)
return 1
"""

GET_SIGNATURE = Signature(keys=context(JOB), args=(*CONTEXT_ARGS, "job_prefix"))
# The whole job in one command (cheaper for the client than a pipeline of five).
GET = """
promote(A.job_prefix)
return {redis.call('HGETALL', K.job.state), redis.call('GET', K.job.input), redis.call('GET', K.job.output),
        redis.call('LRANGE', K.job.webhook_log, 0, -1), redis.call('LRANGE', K.job.attempts, 0, -1),
        redis.call('GET', K.job.progress)}
"""

PROGRESS_SIGNATURE = Signature(keys=context(JOB), args=(*CONTEXT_ARGS, "id", "attempt", "progress"))
# The progress this attempt of a running job reports (JSON), kept with the job's TTL. Returns 1,
# or 0 when the job has moved on (another attempt, or it ended): a late report changes nothing.
PROGRESS = """
local jk, id = K.job, A.id
local status, attempts = unpack(redis.call('HMGET', jk.state, 'status', 'attempts'))
if status ~= 'running' or attempts ~= A.attempt then return 0 end
local ttl = redis.call('PTTL', jk.state)
if ttl > 0 then redis.call('SET', jk.progress, A.progress, 'PX', ttl)
else redis.call('SET', jk.progress, A.progress) end
changed(jk, id)
return 1
"""

RETRY_SIGNATURE = Signature(
    keys=context(JOB, JOBS_QUEUE),
    args=(*CONTEXT_ARGS, "id", "owner", "message", "webhook_id", "ttl", "job_prefix"),
)
# A failed or cancelled job runs again, as its next attempt: its last run joins its history, its
# outcome is cleared, it is pending (its run message queued, its priority kept) and lives a ttl
# from now. Its webhook starts a new series under a new id (a new event). An empty owner stands
# for any. Returns 'ok', 'not_found' or the status that cannot be retried.
RETRY = """
local jk, id = K.job, A.id
promote(A.job_prefix)
local status, owner, attempts, started, completed = unpack(redis.call('HMGET', jk.state, 'status', 'owner',
  'attempts', 'started_at', 'completed_at'))
if not status or (A.owner ~= '' and (owner or '_') ~= A.owner) then return 'not_found' end
if status ~= 'failed' and status ~= 'cancelled' then return status end
if started then
  local output = cjson.decode(redis.call('GET', jk.output) or '{}')
  local error = output.error
  if error == nil then error = cjson.null end
  remember(jk, {attempt = tonumber(attempts), started_at = tonumber(started), ended_at = tonumber(completed),
                outcome = status, error = error})
end
redis.call('HDEL', jk.state, 'started_at', 'completed_at', 'cancel_requested', 'crashes', 'next_run_at')
redis.call('DEL', jk.output, jk.progress)
local ttl_ms = tonumber(A.ttl) * 1000
for _, key in ipairs({jk.state, jk.input, jk.attempts, jk.webhook_log}) do redis.call('PEXPIRE', key, ttl_ms) end
redis.call('HSET', jk.state, 'expires_at', (q_now() + ttl_ms) / 1000)
if redis.call('HEXISTS', jk.state, 'webhook_id') == 1 then
  redis.call('HINCRBY', jk.state, 'webhook_series', 1)
  redis.call('HSET', jk.state, 'webhook_id', A.webhook_id, 'webhook_state', 'pending', 'webhook_attempt', 0)
  redis.call('HDEL', jk.state, 'webhook_reason', 'webhook_next_at')
end
move(jk, id, status, 'pending')
q_enqueue_at(K.jobs, id, A.message, redis.call('HGET', jk.state, 'priority') or Q_DEFAULT_PRIORITY, 0)
return 'ok'
"""

CANCEL_SIGNATURE = Signature(
    keys=context(JOB, JOBS_QUEUE),
    args=(*CONTEXT_ARGS, "id", "owner", "now", "webhook_id", "webhook", "job_prefix"),
)
# scheduled|pending → cancelled at once (its run message dropped); running → asked to stop;
# returns what happened, or why nothing did. An empty owner stands for any (an admin, a batch).
CANCEL = """
local jk, id = K.job, A.id
promote(A.job_prefix)
local status, owner = unpack(redis.call('HMGET', jk.state, 'status', 'owner'))
if not status or (A.owner ~= '' and (owner or '_') ~= A.owner) then return 'not_found' end
if status == 'pending' or status == 'scheduled' then
  redis.call('HSET', jk.state, 'completed_at', A.now)
  redis.call('HDEL', jk.state, 'next_run_at')
  redis.call('ZREM', C.scheduled, id)
  s_count(C.stats, 'jobs', 'x', nil)
  move(jk, id, status, 'cancelled')
  q_remove(K.jobs, id)
  finished(jk, id, A.webhook_id, A.webhook)
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', jk.state, 'cancel_requested', '1')
  changed(jk, id)
  return 'requested'
end
return 'finished'
"""

PAGE_SIGNATURE = Signature(
    keys=context(),
    args=(
        *CONTEXT_ARGS,
        "owner",
        "status",
        "algorithm",
        "job_prefix",
        "max",
        "min",
        "after",
        "after_score",
        "limit",
        "input_suffix",
        "output_suffix",
        "log_suffix",
        "attempts_suffix",
        "progress_suffix",
    ),
)
# A page of the index of ``owner`` ('' for every owner: their indexes merged) for ``status`` and
# ``algorithm`` ('*': any), newest first (ties: greater id first), after the cursor. It reads at
# most a bounded number of entries, so a call costs O(limit) per owner whatever the indexes hold;
# entries of jobs gone are dropped, those past any job's life at once, owners with no job left
# forgotten. Returns {more, last id read, its score, then for each job: id, state fields, input,
# output, webhook log, history, progress}.
PAGE = """
promote(A.job_prefix)
local prefix = A.job_prefix
local keys = {}
for _, owner in ipairs(owners_of(A.owner, A.status == '*' and A.algorithm == '*', C.prefix, ':*:*')) do
  table.insert(keys, C.prefix .. owner .. ':' .. A.status .. ':' .. A.algorithm)
end
local out = {0, '', ''}
local function visit(id)
  local fields = redis.call('HGETALL', prefix .. id)
  if #fields == 0 then return false end
  table.insert(out, id)
  table.insert(out, fields)
  table.insert(out, redis.call('GET', prefix .. id .. A.input_suffix) or '')
  table.insert(out, redis.call('GET', prefix .. id .. A.output_suffix) or '')
  table.insert(out, redis.call('LRANGE', prefix .. id .. A.log_suffix, 0, -1))
  table.insert(out, redis.call('LRANGE', prefix .. id .. A.attempts_suffix, 0, -1))
  table.insert(out, redis.call('GET', prefix .. id .. A.progress_suffix) or '')
  return true
end
out[1], out[2], out[3] = newest_first(keys, A.max, A.min, A.after, A.after_score, tonumber(A.limit), visit)
return out
"""
