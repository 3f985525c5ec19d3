"""The client stands alone: nothing of the server is importable beside it, and a user's own
module named ``app`` is theirs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: Set by the server's test that runs this suite in a venv holding only the client (and pytest).
CLIENT_ONLY = os.environ.get("FUNCTIONALSCAFFOLD_CLIENT_ONLY") == "1"


@pytest.mark.skipif(not CLIENT_ONLY, reason="only in a venv holding the client alone")
@pytest.mark.parametrize("module", ["app", "workers", "algorithms", "flask", "dramatiq", "redis", "click", "requests"])
def test_nothing_of_the_server_is_installed(module: str) -> None:
    assert importlib.util.find_spec(module) is None


def test_the_client_works_next_to_a_module_named_app(platform: Any, tmp_path: Path) -> None:
    """Most Flask and FastAPI projects have an app.py: the client must neither need nor shadow it."""
    (tmp_path / "app.py").write_text("OWNER = 'the user'\n")
    script = textwrap.dedent(
        """
        import os, app
        from functionalscaffold_client import Client
        job = Client(os.environ["URL"], os.environ["KEY"]).submit("PrimeChecker", {"number": 561}, wait=30)
        print(app.OWNER, app.__file__, job.status, job.result["factors"])
        """
    )
    env = {**os.environ, "URL": platform.url, "KEY": platform.key()}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["the", "user", str(tmp_path / "app.py"), "completed", "[3,", "11,", "17]"]


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "functionalscaffold-client"
    return subprocess.run([str(command), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_job_commands_work_from_the_client_alone(platform: Any, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise SystemExit('the user\\'s own app.py was imported')\n")
    env = {**os.environ, "FUNCTIONALSCAFFOLD_URL": platform.url, "FUNCTIONALSCAFFOLD_API_KEY": platform.key()}

    submitted = _cli("submit", "PrimeChecker", "-p", "number=561", "--wait", env=env, cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    lines = dict(line.split(None, 1) for line in submitted.stdout.splitlines())
    assert lines["status"] == "completed"

    listed = _cli("list", "--json", env=env, cwd=tmp_path)
    assert [job["job_id"] for job in __import__("json").loads(listed.stdout)] == [lines["job"]]
    unknown = _cli("status", "ffffffffffff", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stderr.startswith("Error: JOB_NOT_FOUND")
    assert _cli("submit", "PrimeChecker", "-p", "number", env=env, cwd=tmp_path).returncode == 2
