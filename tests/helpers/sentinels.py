"""A Sentinel-managed Redis on 127.0.0.1 for tests and benches: a master, a replica and three
sentinels, each a ``redis-server`` process of our own (sentinels with ``--sentinel`` and a small conf
file in a tmp folder), stopped by pid.

With ``replication_delay_ms``, each data node sits behind a ``relays.Relay`` that holds back what it
sends its replicas that long (a replica running behind, as over a slower link), and killing the
master kills its relay too, with what it held: the writes a failover loses under Redis's
asynchronous replication.

Failover is tuned short: a master silent for ``DOWN_AFTER_MS`` is down for the sentinels, and one
failover attempt may take ``FAILOVER_TIMEOUT_MS`` (sentinels do not start another for the same
master within twice that). Nothing is persisted: a killed node comes back empty, as a replica of the
current master (``restart_as_replica``), as a process manager restarting it with the sentinels'
configuration would bring it back.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import redis
from relays import Relay
from support import wait_until

from app.infra.embedded_redis import die_with_parent, find_redis_server, free_port

MASTER_NAME = "fs-master"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
QUORUM = 2


@dataclass
class Node:
    """One redis-server (a data node or a sentinel), reached at ``public_port``: its own, or its relay's."""

    name: str
    port: int
    public_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    relay: Relay | None = None

    def __post_init__(self) -> None:
        self.public_port = self.public_port or self.port

    def client(self, timeout: float = 1.0) -> redis.Redis:
        return redis.Redis(port=self.public_port, socket_timeout=timeout, socket_connect_timeout=timeout)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.relay is not None:
            self.relay.kill()
            self.relay = None
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class Sentinels:
    """Start with ``with``; ``settings`` are what the platform's processes need to use it."""

    def __init__(self, directory: Path, replication_delay_ms: float = 0) -> None:
        self.directory = Path(directory)
        self.replication_delay_ms = replication_delay_ms
        relayed = (lambda: free_port()) if replication_delay_ms else (lambda: 0)
        self.data = [Node(f"redis-{name}", free_port(), relayed()) for name in "ab"]
        self.sentinels = [Node(f"sentinel-{n}", free_port()) for n in range(3)]

    @property
    def settings(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def __enter__(self) -> Sentinels:
        try:
            first, second = self.data
            self._start_data(first)
            self._start_data(second, replica_of=first)
            self._wait_replicating(second)
            for sentinel in self.sentinels:
                self._start_sentinel(sentinel, first)
            wait_until(self._all_watching, timeout=15, interval=0.05, message="the sentinels to know each other")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, node: Node, arguments: list[str]) -> None:
        log = open(self.directory / f"{node.name}.log", "ab")  # noqa: SIM115 (the child keeps its own copy)
        with log:
            node.process = subprocess.Popen(
                [find_redis_server(), *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def _start_data(self, node: Node, replica_of: Node | None = None) -> None:
        arguments = ["--port", str(node.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        arguments += ["--dir", str(self.directory), "--dbfilename", f"{node.name}.rdb"]
        arguments += ["--replica-announce-ip", "127.0.0.1", "--replica-announce-port", str(node.public_port)]
        if replica_of is not None:
            arguments += ["--replicaof", "127.0.0.1", str(replica_of.public_port)]
        if node.public_port != node.port:
            log = self.directory / f"{node.name}-relay.log"
            node.relay = Relay(node.public_port, node.port, self.replication_delay_ms / 1000, log).start()
        self._run(node, arguments)
        wait_until(lambda: _pings(node), timeout=10, interval=0.02, message=f"{node.name} to answer")

    def _start_sentinel(self, node: Node, master: Node) -> None:
        conf = self.directory / f"{node.name}.conf"  # sentinels rewrite their conf file: one each
        conf.write_text(
            f"port {node.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.public_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self._run(node, [str(conf), "--sentinel"])

    def _all_watching(self) -> bool:
        for sentinel in self.sentinels:
            try:
                state = sentinel.client().sentinel_master(MASTER_NAME)
            except redis.RedisError:
                return False
            if state["num-other-sentinels"] < len(self.sentinels) - 1 or state["num-slaves"] < 1:
                return False
        return True

    def master(self) -> Node:
        """The data node the sentinels name master now: the name most of them give (one sentinel
        may still give the old master for a moment after a failover)."""
        named: Counter[int] = Counter()
        for sentinel in self.sentinels:
            with contextlib.suppress(redis.RedisError):
                _, port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                named[int(port)] += 1
        if not named:
            raise AssertionError("no sentinel answers")
        port, _ = named.most_common(1)[0]
        return next(node for node in self.data if node.public_port == port)

    def replica(self) -> Node:
        current = self.master()
        return next(node for node in self.data if node is not current)

    def replication_lag(self, attempts: int = 3, wait_seconds: float = 20.0) -> float:
        """Seconds a write to the master takes to show on the replica (a probe on a key of its own).

        A probe that does not show within ``wait_seconds`` is written again, to whichever node the
        sentinels name master then: on a loaded machine they may fail over on their own (a master
        silent for DOWN_AFTER_MS), and a probe written to a master just demoted never reaches the
        node promoted. After ``attempts`` probes the test fails, with what each node said.
        """
        for _ in range(attempts):
            token = str(time.monotonic())
            master_node = wait_until(
                lambda: self._write_probe(token),  # noqa: B023 (called at once)
                timeout=wait_seconds,
                interval=0.05,
                message="a master that takes the probe",
            )
            replica = next(node for node in self.data if node is not master_node).client()
            began = time.monotonic()
            while time.monotonic() - began < wait_seconds:
                with contextlib.suppress(redis.RedisError):
                    if replica.get("sentinels-test:lag-probe") == token.encode():
                        return time.monotonic() - began
                time.sleep(0.001)
        raise AssertionError(f"no probe reached the replica in {attempts} tries: {self.describe()}")

    def _write_probe(self, token: str) -> Node | None:
        """The master the sentinels name, once it took the probe; None if it refused (demoted, gone)."""
        master_node = self.master()
        try:
            master_node.client().set("sentinels-test:lag-probe", token)
        except redis.RedisError:
            return None
        return master_node

    def describe(self) -> str:
        """What each data node says of its replication, and whom each sentinel names master."""
        said = []
        for node in self.data:
            try:
                info = node.client().info("replication")
                role, link, offset = (info.get(k) for k in ("role", "master_link_status", "master_repl_offset"))
                said.append(f"{node.name} (port {node.public_port}): {role}, link {link}, offset {offset}")
            except redis.RedisError as exc:
                said.append(f"{node.name}: {exc}")
        for sentinel in self.sentinels:
            try:
                said.append(f"{sentinel.name} names {sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)}")
            except redis.RedisError as exc:
                said.append(f"{sentinel.name}: {exc}")
        return "; ".join(said)

    def kill_master(self) -> Node:
        """The master's host dies: its relay (with what it held back) and its process (SIGKILL); returns it."""
        master = self.master()
        master.stop(signal.SIGKILL)
        return master

    def wait_for_failover(self, old: Node, timeout: float = 15.0) -> Node:
        """Wait until every sentinel names another master, and that one says it is; returns it."""

        def promoted() -> Node | None:
            named = set()
            for sentinel in self.sentinels:
                try:
                    named.add(int(sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
                except redis.RedisError:
                    return None
            if len(named) != 1 or old.public_port in named:
                return None
            new = next(node for node in self.data if node.public_port in named)
            try:
                return new if new.client().info("replication")["role"] == "master" else None
            except redis.RedisError:
                return None

        return wait_until(promoted, timeout=timeout, interval=0.05, message="the sentinels to fail over")

    def restart_as_replica(self, node: Node) -> None:
        """Bring a killed node back, empty, replicating the current master; returns once in sync."""
        self._start_data(node, replica_of=self.master())
        self._wait_replicating(node)
        wait_until(self._replica_usable, timeout=15, interval=0.05, message="the sentinels to see the replica")

    def _wait_replicating(self, node: Node) -> None:
        # A full sync of the master's data set (thousands of jobs by the later failovers, through the
        # relay that holds replication back) on a busy machine: allow it a minute.
        wait_until(
            lambda: node.client().info("replication").get("master_link_status") == "up",
            timeout=60,
            interval=0.02,
            message=f"{node.name} to replicate its master",
        )

    def _replica_usable(self) -> bool:
        """Every sentinel sees a replica, up (so that the next failover has one to promote)."""
        for sentinel in self.sentinels:
            try:
                replicas = sentinel.client().sentinel_slaves(MASTER_NAME)
            except redis.RedisError:
                return False
            if not any(not r["is_sdown"] and r.get("master-link-status") == "ok" for r in replicas):
                return False
        return True

    def close(self) -> None:
        for node in [*self.sentinels, *self.data]:
            node.stop()


def _pings(node: Node) -> bool:
    try:
        return bool(node.client(timeout=0.5).ping())
    except redis.RedisError:
        return False
