"""Jobs answered 202, then lost, over Redis failovers: what REDIS_MIN_REPLICAS is for.

``lost_over_failovers`` keeps a steady submission load on the platform (the Python client, which
retries 503s with the same Idempotency-Key) while the Redis master's host dies, ``failovers``
times, under way (``Sentinels.kill_master``). With the replica running behind
(``Sentinels(replication_delay_ms=...)``) this loses what the master had accepted but not yet
passed on, as Redis's asynchronous replication does. Once the sentinels have promoted the replica,
the killed node comes back as a replica of the new master (as a process manager would restart
it). Afterwards every job that was answered 202 is looked up on the master: those missing were lost.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import redis
from functionalscaffold_client import ApiError, Client, ClientError
from sentinels import Sentinels
from support import wait_until

from app.domain.errors import JobNotFound
from app.infra.config import Config
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.redis import connect


@dataclass
class FailoverRun:
    accepted: dict[str, float] = field(default_factory=dict)  # job id answered 202 → when (monotonic)
    failed: list[str] = field(default_factory=list)  # submissions whose retries ran out (never accepted)
    lost: list[str] = field(default_factory=list)  # accepted, then missing
    failover_seconds: list[float] = field(default_factory=list)  # kill → a new master named and serving
    kills: list[float] = field(default_factory=list)  # when each master was killed (monotonic)
    lag_seconds: list[float] = field(default_factory=list)  # how far behind the replica ran, just before each kill
    answers: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, status) of every HTTP answer


class _Load:
    """Submissions at ``rate`` per second, each by a ``Client`` retrying with its Idempotency-Key."""

    def __init__(self, url: str, rate: float, run: FailoverRun) -> None:
        self._url, self._rate, self._run = url, rate, run
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=64)
        # One connection pool for every submission (a new httpx.Client per call costs an SSL context's
        # making, ~30 ms of CPU); its hook sees every answer, retried ones too.
        self._http = httpx.Client(event_hooks={"response": [self._record]}, limits=httpx.Limits(max_connections=64))
        self._thread = threading.Thread(target=self._pace, daemon=True)

    def _record(self, response: httpx.Response) -> None:
        with self._lock:
            self._run.answers.append((time.monotonic(), response.status_code))

    def _submit(self) -> None:
        client = Client(self._url, timeout=5, retry_seconds=60, http_client=self._http)
        try:
            job = client.submit("PrimeChecker", {"number": 17})
        except (ApiError, ClientError) as exc:
            with self._lock:
                self._run.failed.append(str(exc))
            return
        with self._lock:
            self._run.accepted[job.job_id] = time.monotonic()

    def _pace(self) -> None:
        began, sent = time.monotonic(), 0
        while not self._stop.wait(max(0.0, began + sent / self._rate - time.monotonic())):
            self._pool.submit(self._submit)
            sent += 1

    def answers_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at, _ in self._run.answers if at >= moment)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No new submission; those under way finish (their retries included)."""
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        self._http.close()


def lost_over_failovers(url: str, sentinels: Sentinels, failovers: int, rate: float = 40.0) -> FailoverRun:
    run = FailoverRun()
    load = _Load(url, rate, run)
    load.start()
    try:
        for _ in range(failovers):
            calm = time.monotonic()
            wait_until(lambda: load.answers_since(calm) >= 20, timeout=60, message="submissions to flow")  # noqa: B023
            run.lag_seconds.append(sentinels.replication_lag())
            killed = sentinels.kill_master()
            killed_at = time.monotonic()
            run.kills.append(killed_at)
            sentinels.wait_for_failover(killed)
            run.failover_seconds.append(time.monotonic() - killed_at)
            sentinels.restart_as_replica(killed)
    finally:
        load.stop()
    client = observer_client(sentinels)
    store = JobStore(client, Keys("fs"))
    for job_id in run.accepted:
        try:
            store.get(job_id)
        except JobNotFound:
            run.lost.append(job_id)
    client.close()
    return run


def _sentinel_config(sentinels: Sentinels) -> dict[str, object]:
    settings = sentinels.settings
    return {
        "redis_sentinels": tuple(settings["REDIS_SENTINELS"].split(",")),
        "redis_sentinel_master": settings["REDIS_SENTINEL_MASTER"],
    }


def observer_client(sentinels: Sentinels) -> redis.Redis:
    """A client of the current master, found through the sentinels as the platform finds it."""
    return connect(Config(**_sentinel_config(sentinels)))
