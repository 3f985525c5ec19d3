"""README's first command: ``functionalscaffold dev`` starts everything and cleans up on exit."""

from __future__ import annotations

import re
import signal
import subprocess

import psutil
import pytest
import requests
from support import ProcessGroup, platform_env, wait_until

from app.embedded_redis import free_port

pytestmark = pytest.mark.slow


def test_dev_runs_the_platform_on_an_embedded_redis_and_stops_it_all(tmp_path) -> None:
    port = free_port()
    group = ProcessGroup()
    dev = group.start(
        "dev", ["functionalscaffold", "dev", "--port", str(port)], platform_env(WORKER_PROCESSES="1"), str(tmp_path)
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return requests.get(f"{url}/readyz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=30, interval=0.1, message="the dev stack")
        job_id = requests.post(
            f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 91}}, timeout=5
        ).json()["job_id"]
        job = wait_until(
            lambda: (j := requests.get(f"{url}/jobs/{job_id}", timeout=5).json())["status"] == "completed" and j,
            timeout=20,
            message="the job",
        )
        assert job["result"]["factors"] == [7, 13]
        descendants = psutil.Process(dev.pid).children(recursive=True)
        assert any("redis-server" in " ".join(p.cmdline()) for p in descendants)
        # The hint it prints lets another shell's commands reach the same (embedded) Redis.
        [redis_url] = re.findall(r"export REDIS_URL=(\S+)", (tmp_path / "dev.log").read_text())
        secret = subprocess.run(
            ["functionalscaffold", "webhook-secret"],
            env=platform_env(REDIS_URL=redis_url),
            capture_output=True,
            text=True,
        )
        assert secret.returncode == 0 and secret.stdout.startswith("whsec_"), secret.stderr
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200

        dev.send_signal(signal.SIGTERM)  # the leader only, as a terminal's Ctrl-C or a supervisor would
        dev.wait(timeout=30)
        _, alive = psutil.wait_procs(descendants, timeout=10)
        assert alive == [], [p.pid for p in alive]
    finally:
        group.stop()
    log = (tmp_path / "dev.log").read_text()
    assert "embedded, stops on exit" in log
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true" in log
