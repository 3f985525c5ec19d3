"""What the operators' view costs (issue 13): job throughput with the observers on and off, the
scrape time of ``/metrics`` and ``/queues`` with 10^6 jobs stored, and 200 event streams held by one
web process while ``/healthz`` is timed.

Observers *off*: the jobs alone. *On*: the same run with ``STREAMS`` open event streams (``GET
/jobs/{id}/events``, on jobs that stay unfinished throughout: scheduled an hour ahead, so that they
hold no worker slot) and ``/metrics`` and ``/queues`` scraped every second. What cannot be switched
off (the job scripts keep the gauges' sets, the activity buckets and each job's version; workers
beat their registry entry each second) is priced from Redis's own accounting: ``INFO commandstats``
over the run, and a ``MONITOR`` trace of one job's commands, sorted by the keys they touch.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import redis
import requests
from populate import store_jobs
from report import Row, at_least, at_most, ratio_at_least
from stack import KEYS, Stack, commandstats, commandstats_delta, job_rate, wait_jobs_done

from app.infra.config import Config
from app.services.jobs import JobRequest
from app.storage.workers import WorkerRegistry
from app.wiring import build_services
from phases import BENCH, Settings, load

STREAMS = 200
SMALL = JobRequest("PrimeChecker", {"number": 1009})
UNFINISHED = JobRequest("PrimeChecker", {"number": 1013}, delay_seconds=3600)


def _services(stack: Stack):
    return build_services(Config(redis_url=stack.redis_server.url), stack.redis)


class Scraper:
    """GET /metrics and /queues once a second each, from a thread, timing every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.times: dict[str, list[float]] = {"/metrics": [], "/queues": []}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                tick = time.monotonic()
                for path, samples in self.times.items():
                    started = time.perf_counter()
                    answer = session.get(self.url + path, timeout=10)
                    samples.append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path}: {answer.status_code}")
                self._stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


class Streams:
    """``bench/streams.py`` in a process of its own, holding ``count`` event streams open until closed."""

    def __init__(self, url: str, ids: list[str], count: int, seconds: float) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
            f.write("\n".join(ids))
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "streams.py"),
                url,
                "--ids-file",
                f.name,
                "--streams",
                str(count),
                "--seconds",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = json.loads(self.process.stdout.readline() or "{}")
        self.summary: dict = {}

    def close(self) -> dict:
        if self.process.poll() is None:
            self.process.terminate()  # our own child, by its pid: it closes its streams and reports
        out, _ = self.process.communicate(timeout=30)
        lines = [line for line in out.splitlines() if line.strip()]
        self.summary = json.loads(lines[-1]) if lines else {}
        return self.summary


def _trace_one_job(stack: Stack, url: str) -> Counter:
    """The commands Redis ran for one job, from its POST to its end, by what they serve."""
    seen: Counter = Counter()
    stop = threading.Event()
    monitor_client = redis.Redis.from_url(stack.redis_server.url, socket_timeout=10)
    lines: list[str] = []

    def watch() -> None:
        with monitor_client.monitor() as monitor:
            while not stop.is_set():
                try:
                    lines.append(monitor.next_command()["command"])
                except (redis.TimeoutError, TimeoutError):
                    continue

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.3)
    job_id = requests.post(f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 1019}}).json()[
        "job_id"
    ]
    deadline = time.monotonic() + 30
    while stack.redis.hget(KEYS.job(job_id), "completed_at") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    stop.set()  # the watcher ends at the next command it reads (workers beat every second)
    thread.join(timeout=12)
    monitor_client.close()
    if not lines:
        raise RuntimeError("MONITOR saw no command")
    for line in list(lines):
        words = line.split()
        command = words[0].strip('"').lower()
        keys = " ".join(words[1:3])
        if command in ("evalsha", "eval"):
            seen["scripts", command] += 1
        elif KEYS.pending_jobs in keys or KEYS.running_jobs in keys:
            seen["gauges (pending/running sets)", command] += 1
        elif KEYS.stats_prefix in keys:
            seen["activity buckets (/queues)", command] += 1
        elif KEYS.watched_jobs in keys and command != "zscore":
            seen["stream watch renewals (each open stream, every 15 s; not per job)", command] += 1
        elif KEYS.watched_jobs in keys or (command == "hincrby" and words[-2].strip('"') == "v"):
            seen["events (version, watched set)", command] += 1
        elif KEYS.workers in keys or ":worker:" in keys:
            seen["worker registry (per second, not per job)", command] += 1
        else:
            seen["the job itself", command] += 1
    return seen


def _throughput(stack: Stack, settings: Settings) -> list[Row]:
    count = settings.pick(5000, 300)
    on = Row(
        f"job throughput, observers on ({STREAMS} event streams, /metrics + /queues each second), {count} jobs",
        "jobs/s",
        "observers off, same run",
        target="≥ 0.95×",
        check=ratio_at_least(0.95),
    )
    calls = Row("Redis commands per job (direct, and run by scripts), observers on", "calls", "observers off")
    scripts = Row("Redis time per job in the job scripts (EVALSHA), observers on", "µs", "observers off")
    scrape_under_load = {path: Row(f"{path} scrape while jobs drain, p50", "ms") for path in ("/metrics", "/queues")}
    stack.flush()
    url = stack.start_web("web")
    services = _services(stack)
    unfinished = store_jobs(services, stack.redis, STREAMS, UNFINISHED)
    cost: dict[str, dict[str, tuple[int, float]]] = {}
    try:
        for repetition in range(settings.repeat):
            modes = ("off", "on") if repetition % 2 == 0 else ("on", "off")
            for mode in modes:
                # A fresh web process each round: a stream whose client left keeps its slot until
                # its next keep-alive write fails (up to KEEPALIVE_SECONDS), so the next round's
                # streams would find the process full.
                stack.stop("web")
                url = stack.start_web("web")
                ids = store_jobs(services, stack.redis, count, SMALL)
                streams = Streams(url, unfinished, STREAMS, seconds=240) if mode == "on" else None
                if streams is not None and streams.ready.get("ready") != STREAMS:
                    streams.close()
                    raise RuntimeError(f"event streams not all open: {streams.ready}")
                scraper = Scraper(url) if mode == "on" else None
                before = commandstats(stack.redis)
                if scraper:
                    scraper.__enter__()
                try:
                    stack.start_worker()
                    wait_jobs_done(stack.redis, timeout=300)
                finally:
                    if scraper:
                        scraper.__exit__()
                    stack.stop("worker")
                    if streams is not None:
                        summary = streams.close()
                        if summary.get("ended_by_server") or summary.get("errors"):
                            raise RuntimeError(f"event streams ended early: {summary}")
                delta = commandstats_delta(before, commandstats(stack.redis))
                cost[mode] = delta
                rate = job_rate(stack.redis, ids)
                # A script's commands count as its own time and as theirs: calls leave the scripts
                # out; time is the scripts' (EVALSHA: the job scripts, fetches, lease renewals).
                total_calls = sum(c for name, (c, _) in delta.items() if name not in ("evalsha", "eval")) / count
                evalsha = delta.get("evalsha", (0, 0.0))[1] / count
                if mode == "on":
                    on.platform.samples.append(rate)
                    calls.platform.samples.append(total_calls)
                    scripts.platform.samples.append(evalsha)
                    for path, row in scrape_under_load.items():
                        row.platform.samples.append(statistics.median(scraper.times[path]))
                else:
                    on.baseline.samples.append(rate)
                    calls.baseline.samples.append(total_calls)
                    scripts.baseline.samples.append(evalsha)
        # What the observers' own commands inside the job scripts cost: one job's commands (traced),
        # each priced at Redis's mean time per call of that command over the "off" runs.
        stack.start_worker()
        time.sleep(2)
        traced = _trace_one_job(stack, url)
        stack.stop("worker")
        average = {name: usec / calls for name, (calls, usec) in cost["off"].items() if calls}
        split = []
        for group in ("gauges (pending/running sets)", "activity buckets (/queues)", "events (version, watched set)"):
            commands = {c: n for (g, c), n in traced.items() if g == group}
            described = ", ".join(f"{n} {c.upper()}" for c, n in sorted(commands.items()))
            row = Row(f"per job, in its scripts, {group}: {described}", "µs")
            row.platform.samples.append(sum(n * average.get(c, 0.0) for c, n in commands.items()))
            split.append(row)
        registry = Row("per job, worker registry heartbeats (1 script a second per worker process)", "µs")
        registry.platform.samples.append(2 * average.get("evalsha", 0.0) / statistics.median(on.baseline.samples))
        return [on, calls, scripts, *scrape_under_load.values(), *split, registry]
    finally:
        stack.stop("web", "worker")
        services.metrics.close()


def _scrape_ms(session: requests.Session, url: str, times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        answer = session.get(url, timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code}")
    return samples


def _scrapes(stack: Stack, settings: Settings) -> list[Row]:
    stored = settings.pick(1_000_000, 10_000)
    times = settings.pick(50, 10)
    rows = {
        path: Row(
            f"{path} scrape with {stored:,} jobs stored, p50 of {times}",
            "ms",
            "empty store",
            target="< 50 ms",
            check=at_most(50),
        )
        for path in ("/metrics", "/queues")
    }
    p99 = {
        path: Row(f"{path} scrape with {stored:,} jobs stored, max of {times}", "ms", "empty store") for path in rows
    }
    stack.flush()
    url = stack.start_web("web")
    services = _services(stack)
    registry = WorkerRegistry(stack.redis, KEYS)
    for n, role in enumerate(("jobs", "jobs", "webhooks")):  # as if workers ran (none does: they would drain)
        registry.heartbeat(f"bench-{n}", {"role": role, "slots": 2, "running": [], "host": "bench"}, 3_600_000)
    try:
        with requests.Session() as session:
            empty = {path: [] for path in rows}
            for _ in range(settings.repeat):
                for path in rows:
                    empty[path] += _scrape_ms(session, url + path, times)
            started = time.monotonic()
            store_jobs(services, stack.redis, stored, SMALL)
            print(f"    stored {stored:,} jobs in {time.monotonic() - started:.0f} s", flush=True)
            for _ in range(settings.repeat):
                for path, row in rows.items():
                    samples = _scrape_ms(session, url + path, times)
                    row.platform.samples.append(statistics.median(samples))
                    p99[path].platform.samples.append(max(samples))
            for path, row in rows.items():
                chunks = [empty[path][i : i + times] for i in range(0, len(empty[path]), times)]
                row.baseline.samples += [statistics.median(c) for c in chunks]
                p99[path].baseline.samples += [max(c) for c in chunks]
        return [row for path in rows for row in (rows[path], p99[path])]
    finally:
        stack.stop("web")
        services.metrics.close()
        stack.flush()  # a million jobs: gone before the next phase


def _streams(stack: Stack, settings: Settings) -> list[Row]:
    held = Row(
        f"event streams held open by one web process (WEB_CONCURRENCY=1), of {STREAMS} asked",
        "streams",
        target=f"= {STREAMS}",
        check=at_least(STREAMS),
    )
    beyond = Row(f"stream {STREAMS + 1} on that process answered 503", "yes=1", target="= 1", check=at_least(1))
    p50 = Row(f"/healthz p50 with {STREAMS} streams open, 4 connections", "ms", "no streams open")
    p99 = Row(
        f"/healthz p99 with {STREAMS} streams open, 4 connections",
        "ms",
        "no streams open",
        target="< 50 ms",
        check=at_most(50),
    )
    rps = Row(f"/healthz with {STREAMS} streams open, 4 connections", "req/s", "no streams open")
    stack.flush()
    url = stack.start_web("web", WEB_CONCURRENCY="1")
    services = _services(stack)
    try:
        unfinished = store_jobs(services, stack.redis, STREAMS + 1, UNFINISHED)
        for _ in range(settings.repeat):
            stack.stop("web")  # a fresh process each time (see _throughput)
            url = stack.start_web("web", WEB_CONCURRENCY="1")
            quiet = load(f"{url}/healthz", settings, connections=4)
            streams = Streams(url, unfinished[:STREAMS], STREAMS, seconds=120)
            try:
                held.platform.samples.append(streams.ready.get("ready", 0))
                extra = requests.get(f"{url}/jobs/{unfinished[-1]}/events", stream=True, timeout=10)
                beyond.platform.samples.append(1 if extra.status_code == 503 else 0)
                extra.close()
                busy = load(f"{url}/healthz", settings, connections=4)
            finally:
                streams.close()
            for row, key in ((p50, "p50_ms"), (p99, "p99_ms"), (rps, "rps")):
                row.platform.samples.append(busy[key])
                row.baseline.samples.append(quiet[key])
        return [held, beyond, p50, p99, rps]
    finally:
        stack.stop("web")
        services.metrics.close()


def run(stack: Stack, settings: Settings) -> list[Row]:
    return [*_throughput(stack, settings), *_streams(stack, settings), *_scrapes(stack, settings)]
