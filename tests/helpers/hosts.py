"""Test hosts on one machine: Linux network namespaces joined by veth pairs to a bridge.

A ``Network`` is a bridge; each of its ``Host``s a network namespace with one address on the
network's private /24, its own loopback and its own host name (a UTS namespace per process), as a
separate machine would have. ``Host.start`` runs a command there, its output in
``<logs>/<host>-<name>.log``; ``Host.cut()`` takes its link down (the host stays up but nothing
reaches it or leaves it, as when a cable or a switch port fails) and ``restore()`` brings it back.
With ``observer=True`` the bridge itself has the address ``.1``, so that the test process reaches
every host directly.

``close()`` (run by ``with`` even when the block fails, or is interrupted by Ctrl-C; SIGTERM is
turned into the same while a network is open) removes everything it made: the processes started
(their process groups, then whatever else still runs in its namespaces), the namespaces, the veth
pairs and the bridge. Names carry the creating process's pid (``fsc<pid><letter>``): a run killed
outright (SIGKILL) leaves its namespaces behind, and the next ``Network`` removes those of runs
whose process is gone. Nothing here touches interfaces, namespaces or processes it did not make.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType

from app.infra.embedded_redis import die_with_parent

#: The hosts' /24 (10.249.87.0/24 for a run in one process): private, and unlikely to be routed on a
#: test machine. Each pytest-xdist test process (gw0, gw1, ...) has its own: 10.249.87+N.0/24.
SUBNET = f"10.249.{87 + int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0').removeprefix('gw') or 0)}"
#: Prefix of every name this module gives to a namespace or an interface.
PREFIX = "fsc"
_OURS = re.compile(rf"^{PREFIX}(\d+)[a-z]")
_networks = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def unavailable_reason() -> str | None:
    """Why test hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "they need root (ip netns add)"
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    probe = f"{PREFIX}{os.getpid()}z-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"network namespaces cannot be made here ({made.stderr.strip()})"
    _ip("netns", "del", probe, check=False)
    return None


def namespaces() -> list[str]:
    """The names ``ip netns list`` shows."""
    return [line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()]


def links() -> list[str]:
    """Names of the network interfaces of this (the root) namespace."""
    out = _ip("-o", "link", "show").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def _pids_in(namespace: str) -> list[int]:
    return [int(pid) for pid in _ip("netns", "pids", namespace, check=False).stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_namespace(namespace: str, timeout: float = 10.0) -> None:
    """Kill what still runs in ``namespace`` (it is ours), wait for it to end, delete it."""
    deadline = time.monotonic() + timeout
    while pids := _pids_in(namespace):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} of namespace {namespace} did not end")
        time.sleep(0.02)
    _ip("netns", "del", namespace, check=False)


def sweep_abandoned() -> list[str]:
    """Remove namespaces and interfaces left by runs whose process is gone (killed outright); returns their names."""
    removed = []
    for namespace in namespaces():
        found = _OURS.match(namespace)
        if found and not _alive(int(found.group(1))):
            _remove_namespace(namespace)
            removed.append(namespace)
    for link in links():
        found = _OURS.match(link)
        if found and not _alive(int(found.group(1))):
            _ip("link", "del", link, check=False)
            removed.append(link)
    return removed


class Host:
    """One namespace on the network: ``address``, ``name`` (also its host name) and its processes."""

    def __init__(self, network: Network, name: str, index: int) -> None:
        self.network = network
        self.name = name
        self.address = f"{network.subnet}.{index}"
        self.namespace = f"{network.id}-{name}"
        self.veth = f"{network.id}{index}"  # the bridge's end; at most 15 characters
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _create(self) -> None:
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.namespace)
        _ip("link", "set", self.veth, "master", self.network.bridge, "up")
        _ip("-n", self.namespace, "addr", "add", f"{self.address}/24", "dev", "eth0")
        _ip("-n", self.namespace, "link", "set", "eth0", "up")
        _ip("-n", self.namespace, "link", "set", "lo", "up")

    def command(self, command: str) -> list[str]:
        """``command`` (a shell command line) as run on this host, under its own host name."""
        inner = f"hostname {shlex.quote(self.name)} && exec {command}"
        return ["ip", "netns", "exec", self.namespace, "unshare", "--uts", "--", "sh", "-c", inner]

    def start(self, name: str, command: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Run ``command`` here in a session of its own (stopped by process group), dying with this process."""
        log_path = self.network.logs / f"{self.name}-{name}.log"
        with open(log_path, "ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                self.command(command),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.processes[name] = process
        return process

    def run(self, command: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> str:
        """Run ``command`` here to its end; its output (raises if it fails)."""
        result = subprocess.run(self.command(command), env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{command!r} on {self.name} exited {result.returncode}: {result.stderr[-2000:]}")
        return result.stdout

    def log(self, name: str) -> str:
        path = self.network.logs / f"{self.name}-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """SIGTERM the process group of ``name``; SIGKILL it if it is still there after ``timeout``."""
        _stop({name: self.processes.pop(name)}, timeout)

    def cut(self) -> None:
        """Take this host's link down: it keeps running, unreachable and reaching nothing."""
        _ip("link", "set", self.veth, "down")

    def restore(self) -> None:
        _ip("link", "set", self.veth, "up")

    def _remove(self) -> None:
        _remove_namespace(self.namespace)
        _ip("link", "del", self.veth, check=False)  # usually gone with the namespace's end


def _stop(processes: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM each process group, give them ``timeout`` seconds together, then SIGKILL what is left."""
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything of the group still around
        process.wait()


class Network:
    """A bridge and its hosts; see the module docstring. Use as a context manager."""

    def __init__(self, logs: Path, observer: bool = False, subnet: str = SUBNET) -> None:
        self.logs = Path(logs)
        self.observer = observer
        self.subnet = subnet
        self.id = f"{PREFIX}{os.getpid()}{'abcdefghijklmnopqrstuvwxy'[next(_networks) % 25]}"
        self.bridge = f"{self.id}br"
        self.hosts: dict[str, Host] = {}
        self._previous_sigterm: signal.Handlers | None = None

    @property
    def observer_address(self) -> str:
        return f"{self.subnet}.1"

    def __enter__(self) -> Network:
        self._catch_sigterm()
        try:
            sweep_abandoned()
            self.logs.mkdir(parents=True, exist_ok=True)
            route = _ip("-4", "route", "show", "root", f"{self.subnet}.0/24").stdout.strip()
            if self.observer and route:
                raise RuntimeError(f"{self.subnet}.0/24 is already routed here ({route}): another run?")
            _ip("link", "add", self.bridge, "type", "bridge")
            if self.observer:
                _ip("addr", "add", f"{self.observer_address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, name: str, index: int) -> Host:
        """A new host ``name`` with the address ``<subnet>.<index>`` (2 to 254)."""
        if not 2 <= index <= 254 or any(h.address.endswith(f".{index}") for h in self.hosts.values()):
            raise ValueError(f"address index {index} is taken or out of 2..254")
        host = Host(self, name, index)
        self.hosts[name] = host
        host._create()
        return host

    def close(self) -> None:
        """Remove every process, namespace and interface this network made (safe to call twice)."""
        try:
            everything = {f"{h.name}/{n}": p for h in self.hosts.values() for n, p in h.processes.items()}
            _stop(everything, timeout=10.0)
            for host in self.hosts.values():
                host.processes.clear()
            errors = []
            for host in list(self.hosts.values()):
                try:
                    host._remove()
                except Exception as exc:  # go on: the other hosts must go too
                    errors.append(exc)
            self.hosts.clear()
            _ip("link", "del", self.bridge, check=False)
            if errors:
                raise errors[0]
        finally:
            self._release_sigterm()

    def _catch_sigterm(self) -> None:
        """While the network exists, SIGTERM interrupts like Ctrl-C, so that ``close`` runs."""
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)

    def _release_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
