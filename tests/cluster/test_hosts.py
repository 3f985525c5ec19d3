"""The test hosts themselves: they reach each other, a cut one is cut off, and nothing of them outlives
the run, whether it ends well, fails, is interrupted (Ctrl-C, SIGTERM) or is killed outright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hosts import Network, links, namespaces, sweep_abandoned
from support import platform_env, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("hosts_available")]

#: A process that waits forever (until killed), plus one that left its process group (setsid).
FOREVER = "sh -c 'setsid tail -f /dev/null & exec tail -f /dev/null'"

#: A run of the harness in a process of its own: one host, two processes; prints what it made, waits.
RUN = f"""
import json, signal, sys, time
from hosts import Network, _pids_in
with Network(sys.argv[1]) as network:
    host = network.add("lonely", 2)
    host.start("forever", {FOREVER!r})
    while len(_pids_in(host.namespace)) < 2:
        time.sleep(0.01)
    print(json.dumps({{"namespace": host.namespace, "links": [network.bridge, host.veth],
                      "pids": _pids_in(host.namespace)}}), flush=True)
    signal.pause()
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _assert_nothing_left(made: dict) -> None:
    assert made["namespace"] not in namespaces()
    assert not set(made["links"]) & set(links())
    assert all(_gone(pid) for pid in made["pids"]), [p for p in made["pids"] if not _gone(p)]


@pytest.fixture
def harness_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict]]:
    """The harness in a child process, once it has made its host and started its processes."""
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=platform_env()
    )
    try:
        made = json.loads(run.stdout.readline())
        assert made["namespace"] in namespaces() and len(made["pids"]) == 2
        yield run, made
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
        run.stdout.close()
        sweep_abandoned()


def test_hosts_reach_each_other_by_address_under_their_own_names_and_a_cut_one_is_cut_off(tmp_path: Path) -> None:
    with Network(tmp_path, observer=True) as network:
        server, client = network.add("server", 2), network.add("client", 3)
        server.start("http", f"{sys.executable} -m http.server 8080 --bind {server.address}", env=platform_env())
        fetch = (
            f'{sys.executable} -c "import socket, urllib.request; '
            f"urllib.request.urlopen('http://{server.address}:8080/', timeout=1); print(socket.gethostname())\""
        )
        wait_until(lambda: _answers(client, fetch), timeout=10, interval=0.05, message="the server to answer")
        assert client.run(fetch).strip() == "client"

        server.cut()
        with pytest.raises(RuntimeError, match="timed out"):
            client.run(fetch)
        server.restore()
        assert client.run(fetch).strip() == "client"


def _answers(host, command: str) -> bool:
    try:
        host.run(command)
        return True
    except RuntimeError:
        return False


def test_everything_is_removed_when_the_block_ends_or_fails(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), Network(tmp_path) as network:
        host = network.add("failing", 2)
        process = host.start("forever", FOREVER)
        wait_until(lambda: len(psutil.Process(process.pid).children()) == 1, message="both processes to run")
        made = {
            "namespace": host.namespace,
            "links": [network.bridge, host.veth],
            "pids": [process.pid, psutil.Process(process.pid).children()[0].pid],
        }
        1 / 0  # noqa: B018
    _assert_nothing_left(made)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_everything_is_removed_when_the_run_is_interrupted(harness_run, signum: int) -> None:
    run, made = harness_run
    run.send_signal(signum)
    assert run.wait(timeout=30) != 0
    _assert_nothing_left(made)


def test_what_a_killed_run_left_is_removed_by_the_next_one(harness_run) -> None:
    run, made = harness_run
    run.kill()  # no chance to clean up: the namespace stays, with the process that left its group
    run.wait()
    assert made["namespace"] in namespaces()
    assert made["namespace"] in sweep_abandoned()  # what a new Network does first
    _assert_nothing_left(made)


def test_only_names_of_runs_that_are_gone_are_swept(tmp_path: Path) -> None:
    with Network(tmp_path) as network:
        host = network.add("alive", 2)
        assert os.getpid() == int(network.id[3:-1])
        assert host.namespace not in sweep_abandoned()
        assert host.namespace in namespaces()
