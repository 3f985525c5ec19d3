"""QueueStats: what each queue got done lately: completions, failures and run times.

Scripts that end a piece of work (a job's run, a webhook attempt) count it with ``STATS_LUA``'s
``s_count``, in the same atomic step, into two rings of small hashes per queue:

- 10-second buckets (kept 16 minutes): outcome counts and a histogram of run times, read for the
  1, 5 and 15 minute windows (each window is its buckets up to now: 10 s coarse);
- minute buckets (kept 61 minutes): outcome counts only, read for the last hour's chart.

The histogram has four buckets per doubling (bucket ``b`` ≥ 1 holds run times in
[2^((b-1)/4), 2^(b/4)) ms), so a percentile read from it is within 10 % of the true one, for
a fixed cost per bucket whatever the traffic. Nothing here scans: a read is a fixed number of
small hashes, a write four commands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

from app.storage.keys import Keys
from app.storage.redis import translate_errors

#: Seconds per fine bucket, and how many are kept (a quarter of an hour and a bit).
FINE_SECONDS, FINE_KEPT = 10, 96
#: Minutes of the hour's history.
HISTORY_MINUTES = 60
#: The windows ``/queues`` reports, in minutes.
WINDOWS = (1, 5, 15)

#: Outcomes counted: field name in a bucket → name in the API.
OUTCOMES = {"c": "completed", "f": "failed", "x": "cancelled", "r": "retried"}

#: Lua (needs ``q_now`` from ``QUEUE_LUA``): ``s_count(prefix, queue, outcome, run_ms)`` counts one
#: outcome (a field of ``OUTCOMES``) of ``queue``'s work now, with its run time in ms (nil: none).
STATS_LUA = f"""
local function s_count(prefix, queue, outcome, run_ms)
  local now = q_now()
  local fine = prefix .. queue .. ':10s:' .. math.floor(now / {FINE_SECONDS * 1000})
  redis.call('HINCRBY', fine, outcome, 1)
  if run_ms then
    local b = 0
    if run_ms >= 1 then b = math.floor(4 * math.log(run_ms) / math.log(2)) + 1 end
    redis.call('HINCRBY', fine, 'h' .. b, 1)
  end
  redis.call('EXPIRE', fine, {FINE_SECONDS * FINE_KEPT})
  local minute = prefix .. queue .. ':1m:' .. math.floor(now / 60000)
  redis.call('HINCRBY', minute, outcome, 1)
  redis.call('EXPIRE', minute, {60 * (HISTORY_MINUTES + 1)})
end
"""


@dataclass(frozen=True)
class Window:
    """One window's totals: outcome counts (``OUTCOMES`` names) and run-time percentiles (seconds)."""

    minutes: int
    counts: dict[str, int]
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class Minute:
    #: Unix seconds when the minute started.
    at: float
    counts: dict[str, int]


@dataclass(frozen=True)
class Activity:
    windows: list[Window]
    #: The last ``HISTORY_MINUTES`` minutes, oldest first (the last one still under way).
    history: list[Minute]


def bucket_value_ms(bucket: int) -> float:
    """The run time a histogram bucket stands for: the geometric middle of its range."""
    return 0.5 if bucket == 0 else 2 ** ((bucket - 0.5) / 4)


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The run time (seconds) below which ``fraction`` of the counted runs fall; None when none."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = math.ceil(fraction * total)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value_ms(bucket) / 1000
    raise AssertionError("unreachable: the ranks add up to the total")


class QueueStats:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    @property
    def prefix(self) -> str:
        """What the Lua's ``s_count`` takes as ``prefix``."""
        return self._keys.stats_prefix

    @translate_errors
    def activity(self, queue: str) -> Activity:
        """The windows and the hour's history of ``queue``, in one round trip after the clock's."""
        seconds, micros = self._client.time()
        now_ms = seconds * 1000 + micros // 1000
        fine_now, minute_now = now_ms // (FINE_SECONDS * 1000), now_ms // 60_000
        longest = max(WINDOWS) * 60 // FINE_SECONDS
        pipe = self._client.pipeline(transaction=False)
        for i in range(longest):
            pipe.hgetall(f"{self.prefix}{queue}:10s:{fine_now - i}")
        for i in range(HISTORY_MINUTES):
            pipe.hgetall(f"{self.prefix}{queue}:1m:{minute_now - i}")
        answers = pipe.execute()
        fine, minutes = answers[:longest], answers[longest:]
        windows = []
        for window in WINDOWS:
            counts = dict.fromkeys(OUTCOMES.values(), 0)
            histogram: dict[int, int] = {}
            for bucket in fine[: window * 60 // FINE_SECONDS]:
                for field, value in bucket.items():
                    name = field.decode()
                    if name[0] == "h":
                        histogram[int(name[1:])] = histogram.get(int(name[1:]), 0) + int(value)
                    elif name in OUTCOMES:
                        counts[OUTCOMES[name]] += int(value)
            windows.append(Window(window, counts, percentile(histogram, 0.5), percentile(histogram, 0.95)))
        history = [
            Minute(
                (minute_now - i) * 60.0,
                {name: int(bucket.get(field.encode(), 0)) for field, name in OUTCOMES.items()},
            )
            for i, bucket in reversed(list(enumerate(minutes)))
        ]
        return Activity(windows, history)
