"""The platform on several test hosts (network namespaces on one machine, ``hosts.Network``).

One Redis host, two web hosts, two worker hosts and one client host, each running the Procfile's
commands as production would, with REDIS_URL pointing across the bridge. The test process is the
observer on the bridge (``.1``): it reads job records from Redis and cuts links; loads and the
webhook receiver run on the client host (``client_host.py``). Every process writes its own log in
the cluster's folder.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from hosts import Host, Network
from platforms import procfile_commands
from redis import Redis
from support import metric_value, platform_env, wait_until

from app.domain.models import Job
from app.infra.config import Config
from app.infra.embedded_redis import find_redis_server
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.redis import connect
from app.storage.workers import WorkerRegistry

#: WORKER_LEASE_SECONDS on the cluster: short, so that a cut-off worker's jobs run again soon.
LEASE_SECONDS = 3.0
#: METRICS_FLUSH_SECONDS on the cluster: counts reach /metrics within this.
METRICS_FLUSH_SECONDS = 0.2
#: Requests per API key allowed by the cluster's RATE_LIMIT, per hour (each test takes its own keys).
RATE_LIMIT_PER_HOUR = 30
API_KEYS = [f"cluster-key-{n:03d}" for n in range(300)]
#: The operators' keys (ADMIN_API_KEYS): every job, /workers, /queues.
ADMIN_KEYS = [f"cluster-admin-{n}" for n in range(4)]
WEB_PORT, REDIS_PORT, RECEIVER_PORT = 8000, 6379, 9000
CLIENT_HOST = Path(__file__).with_name("client_host.py")
#: Addresses on the hosts' /24: web and worker hosts numbered from 1.
ADDRESSES = {"redis": 10, "web1": 11, "web2": 12, "worker1": 21, "worker2": 22, "client": 30}


@dataclass
class Load:
    """A submission load running on the client host (``client_host.py submit``)."""

    process: subprocess.Popen[bytes]
    out: Path

    def records(self) -> list[dict]:
        """Each submission so far, in order: as sent, with its answer (``job_id`` or ``error``) once in."""
        merged: dict[int, dict] = {}
        if self.out.exists():
            for line in self.out.read_text().splitlines():
                if line.endswith("}"):  # a line being written is left for the next look
                    record = json.loads(line)
                    merged.setdefault(record["index"], {}).update(record)
        return [merged[index] for index in sorted(merged)]

    def answered(self) -> list[dict]:
        return [r for r in self.records() if "job_id" in r or "error" in r]

    def wait(self, timeout: float) -> list[dict]:
        assert self.process.wait(timeout=timeout) == 0, f"the load exited {self.process.returncode}"
        return self.records()


@dataclass
class Cluster:
    network: Network
    config: Config  # as the observer connects: across the bridge
    store: JobStore
    registry: WorkerRegistry
    #: The observer's connection to the cluster's Redis, for counts made by hand.
    redis: Redis
    keys: Iterator[str] = field(default_factory=lambda: iter(API_KEYS))
    loads: int = 0

    @property
    def hosts(self) -> dict[str, Host]:
        return self.network.hosts

    def web_url(self, name: str) -> str:
        return f"http://{self.hosts[name].address}:{WEB_PORT}"

    @property
    def web_urls(self) -> list[str]:
        return [self.web_url("web1"), self.web_url("web2")]

    @property
    def webhook_url(self) -> str:
        return f"http://{self.hosts['client'].address}:{RECEIVER_PORT}/hook"

    def take_keys(self, count: int) -> list[str]:
        return [next(self.keys) for _ in range(count)]

    def job(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def webhooks(self) -> list[dict]:
        """Every delivery the client host's receiver got: arrival time, headers, body (parsed)."""
        path = self.network.logs / "webhooks.jsonl"
        if not path.exists():
            return []
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        return [{**entry, "body": json.loads(entry["body"])} for entry in entries]

    def metric(self, sample: str, **labels: str) -> float:
        return metric_value(requests.get(self.web_url("web1") + "/metrics", timeout=5).text, sample, **labels)

    def settled_metric(self, sample: str, **labels: str) -> float:
        """``metric`` once no process has a count left to add: unchanged for three flush periods."""
        seen: list[tuple[float, float]] = []

        def settled() -> float | None:
            now, value = time.monotonic(), self.metric(sample, **labels)
            if seen and seen[-1][1] == value:
                return value if now - seen[-1][0] >= 3 * METRICS_FLUSH_SECONDS else None
            seen.append((now, value))
            return None

        return wait_until(settled, timeout=10, interval=METRICS_FLUSH_SECONDS, message=f"{sample} to settle")

    def start_load(
        self, *, count: int, rate: float, keys: list[str], algorithm: str, params: dict, webhook: bool = False
    ) -> Load:
        """Submit ``count`` jobs at ``rate`` per second from the client host, spread over both web hosts."""
        self.loads += 1
        out = self.network.logs / f"load-{self.loads}.jsonl"
        command = [
            sys.executable, str(CLIENT_HOST), "submit", "--urls", ",".join(self.web_urls), "--keys", ",".join(keys),
            "--count", str(count), "--rate", str(rate), "--algorithm", algorithm, "--params", json.dumps(params),
            "--out", str(out), "--deadline", str(count / rate + 30),
        ]  # fmt: skip
        if webhook:
            command += ["--webhook", self.webhook_url]
        process = self.hosts["client"].start(f"load-{self.loads}", shlex.join(command), env=platform_env())
        return Load(process, out)

    def logs(self) -> str:
        """The end of every process's log, for a failing test's report."""
        parts = []
        for path in sorted(self.network.logs.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _settings(redis_address: str) -> dict[str, str]:
    return {
        "REDIS_URL": f"redis://{redis_address}:{REDIS_PORT}/0",
        "PORT": str(WEB_PORT),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "32",
        "API_KEYS": ",".join(API_KEYS),
        "ADMIN_API_KEYS": ",".join(ADMIN_KEYS),
        "RATE_LIMIT": f"{RATE_LIMIT_PER_HOUR}/hour",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_DELAYS": "0.5,1,2",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "6",
        "WEBHOOK_WORKER_PROCESSES": "1",
        "WEBHOOK_WORKER_THREADS": "8",
        "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKER_SHUTDOWN_TIMEOUT_SECONDS": "3",
        "METRICS_FLUSH_SECONDS": str(METRICS_FLUSH_SECONDS),
    }


@contextmanager
def running_cluster(logs: Path) -> Iterator[Cluster]:
    """The cluster of the module docstring, ready: both web hosts answer ready, both worker hosts are registered."""
    commands = procfile_commands()
    with Network(logs, observer=True) as network:
        for name, index in ADDRESSES.items():
            network.add(name, index)
        hosts = network.hosts
        redis_host = hosts["redis"]
        redis_host.start(
            "redis-server",
            f"{find_redis_server()} --bind {redis_host.address} --port {REDIS_PORT} --save '' --appendonly no "
            "--protected-mode no",
        )
        settings = _settings(redis_host.address)
        observer = Config(redis_url=settings["REDIS_URL"], redis_timeout_seconds=2.0)
        client = connect(observer)
        wait_until(lambda: _pings(client), timeout=10, interval=0.05, message="Redis on its host")
        for name in ("web1", "web2"):
            hosts[name].start("web", commands["web"], env=platform_env(HOST=hosts[name].address, **settings))
        for name in ("worker1", "worker2"):
            hosts[name].start("worker", commands["worker"], env=platform_env(**settings))
        hosts["client"].start(
            "receiver",
            shlex.join(
                [sys.executable, str(CLIENT_HOST), "receive", "--address", hosts["client"].address,
                 "--port", str(RECEIVER_PORT), "--out", str(logs / "webhooks.jsonl")]
            ),
            env=platform_env(),
        )  # fmt: skip
        made = Cluster(network, observer, JobStore(client, Keys("fs")), WorkerRegistry(client, Keys("fs")), client)
        try:
            wait_until(lambda: _ready(made), timeout=60, interval=0.2, message="web and worker hosts to be ready")
        except AssertionError:
            sys.stderr.write(made.logs())
            raise
        try:
            yield made
        finally:
            client.close()


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _ready(cluster: Cluster) -> bool:
    for url in cluster.web_urls:
        try:
            if requests.get(url + "/readyz", timeout=2).status_code != 200:
                return False
        except requests.RequestException:
            return False
    alive = {(w["host"], w["role"]) for w in cluster.registry.alive(ttl_ms=int(LEASE_SECONDS * 1000))}
    return all((host, role) in alive for host in ("worker1", "worker2") for role in ("jobs", "webhooks"))
