"""README's first command: ``functionalscaffold dev`` starts everything, says when a job can run,
lets other shells' commands find its Redis, and cleans up on exit."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests
from support import ProcessGroup, hostile_folder, platform_env, wait_until

from app.infra.embedded_redis import free_port
from app.services.auth import CACHE_SECONDS

pytestmark = pytest.mark.slow


def _log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_dev_runs_the_platform_on_an_embedded_redis_and_stops_it_all(tmp_path: Path) -> None:
    port = free_port()
    runtime = tmp_path / "runtime"
    env = platform_env(WORKER_PROCESSES="1", XDG_RUNTIME_DIR=str(runtime))
    group = ProcessGroup()
    folder = hostile_folder(tmp_path / "project")  # a user's project: its own app.py, workers.py...
    dev = group.start("dev", ["functionalscaffold", "dev", "--port", str(port)], env, str(tmp_path), cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "ready in" in _log(tmp_path / "dev.log"), timeout=60, interval=0.1, message="dev's ready")
        # "ready" means a job can run now
        job_id = requests.post(
            f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 91}, "timeout": 30}, timeout=5
        ).json()["job_id"]
        job = requests.get(f"{url}/jobs/{job_id}?wait=10", timeout=15).json()
        assert (job["status"], job["result"]["factors"]) == ("completed", [7, 13])
        descendants = psutil.Process(dev.pid).children(recursive=True)
        assert any("redis-server" in " ".join(p.cmdline()) for p in descendants)

        # Another shell, no REDIS_URL: the commands that need Redis find dev's, not another one.
        secret = subprocess.run(
            ["functionalscaffold", "webhook-secret"], env=env, capture_output=True, text=True, cwd=folder
        )
        assert secret.returncode == 0 and secret.stdout.startswith("whsec_"), secret.stderr
        created = subprocess.run(
            ["functionalscaffold", "keys", "create", "--name", "t"], env=env, capture_output=True, text=True
        )
        assert created.returncode == 0, created.stderr
        wait_until(  # keys are now required there, once the web's answer about keys is renewed
            lambda: requests.get(f"{url}/jobs/{job_id}", timeout=5).status_code == 401,
            timeout=CACHE_SECONDS + 5,
            interval=0.2,
            message="the API to require keys",
        )

        dev.send_signal(signal.SIGTERM)  # the leader only, as a supervisor would
        dev.wait(timeout=60)
        _, alive = psutil.wait_procs(descendants, timeout=10)
        assert alive == [], [p.pid for p in alive]
        assert list(runtime.glob("*.json")) == []  # the runtime file went with it
    finally:
        group.stop()
    log = _log(tmp_path / "dev.log")
    assert "embedded, stops on exit" in log
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true" in log


def test_redis_commands_without_redis_url_or_dev_stack_exit_2_saying_what_to_set(tmp_path: Path) -> None:
    env = platform_env(XDG_RUNTIME_DIR=str(tmp_path))  # no dev stack recorded there
    for command in (["keys", "list"], ["webhook-secret"], ["worker"], ["web"]):
        result = subprocess.run(["functionalscaffold", *command], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (command, result.stderr)
        assert "REDIS_URL is not set" in result.stderr and "REDIS_URL=redis://" in result.stderr


def test_a_port_in_use_gets_one_clear_message(tmp_path: Path) -> None:
    port = free_port()
    with psutil.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path) as taken:
        try:
            wait_until(lambda: _listening(port), timeout=10, message="the port to be taken")
            env = platform_env(REDIS_URL="redis://127.0.0.1:1/0", HOST="127.0.0.1")
            result = subprocess.run(
                ["functionalscaffold", "web", "--port", str(port)], env=env, capture_output=True, text=True, timeout=30
            )
        finally:
            taken.terminate()
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "--port" in result.stderr and "PORT" in result.stderr
    assert result.stderr.count("\n") <= 2


def _listening(port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp"))


def test_a_wrong_redis_url_is_said_once_and_dev_still_stops_within_3_s(tmp_path: Path) -> None:
    dead_port = free_port()  # nothing listens there
    env = platform_env(
        REDIS_URL=f"redis://:secret@127.0.0.1:{dead_port}/0", WORKER_PROCESSES="1", XDG_RUNTIME_DIR=str(tmp_path)
    )
    group = ProcessGroup()
    dev = group.start("dev", ["functionalscaffold", "dev", "--port", str(free_port())], env, str(tmp_path))
    try:
        said = wait_until(  # by each worker process (the job worker and the webhook worker), and dev
            lambda: (log := _log(tmp_path / "dev.log")).count("] app.storage.redis: cannot reach Redis") >= 2 and log,
            timeout=60,
            interval=0.2,
            message="the workers to say which Redis they cannot reach",
        )
        assert f"cannot reach Redis at redis://127.0.0.1:{dead_port}/0" in said and "secret" not in said
        watched_from = len(said)
        deadline = time.monotonic() + 8  # a while of Redis being down: not a line per attempt
        wait_until(lambda: time.monotonic() > deadline, timeout=10, interval=0.5, message="a while")
        later = _log(tmp_path / "dev.log")[watched_from:]
        assert "Redis" not in later and "Error" not in later, later

        descendants = psutil.Process(dev.pid).children(recursive=True)
        stopped_at = time.monotonic()
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=10)
        _, alive = psutil.wait_procs(descendants, timeout=5)
        assert time.monotonic() - stopped_at < 3 and alive == []
    finally:
        group.stop()
