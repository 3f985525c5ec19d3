"""The Python client's own suite (client/tests), in a venv holding only the client, against the
platform as users run it (Procfile processes, real Redis, real workers): proof that the client
needs nothing of the server to be installed, imported or used, sync and async.

The venv is made once per version of the client's pyproject under the temp folder and kept; each
run reinstalls the client from client/ into it (a few seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).resolve().parents[2] / "client"
#: Distributions ``pip install ./client`` may bring in all (the client and its dependencies).
BUDGET = 8
#: Keys the client's suite gets from the keyed platform (each test takes its own).
KEYS = 28


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "--quiet", *args], check=True, timeout=300, env=_clean_env())


def _clean_env() -> dict[str, str]:
    """This process's environment without anything pointing at the server's venv or sources."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {name: value for name, value in os.environ.items() if name not in drop}


@pytest.fixture(scope="session")
def client_venv() -> Path:
    """A venv with the client (from client/), pytest and nothing else; its python."""
    stamp = hashlib.sha256((CLIENT / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / f"functionalscaffold-client-venv-{stamp}"
    python = home / "bin" / "python"
    if not (home / "ready").exists():
        venv.create(home, with_pip=True, clear=True)
        _pip(python, "install", f"{CLIENT}[test]")
        (home / "ready").touch()
    _pip(python, "install", "--no-deps", "--force-reinstall", str(CLIENT))
    return python


def test_the_client_brings_at_most_eight_distributions(client_venv: Path) -> None:
    """The client and what it requires, walked in its venv's metadata (markers evaluated there)."""
    walk = """
import json, re, importlib.metadata as md
from packaging.requirements import Requirement
seen, todo = set(), ["functionalscaffold-client"]
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    seen.add(name)
    for text in md.distribution(name).requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            todo.append(requirement.name)
print(json.dumps(sorted(seen)))
"""
    found = json.loads(
        subprocess.run([str(client_venv), "-c", walk], capture_output=True, text=True, check=True).stdout
    )

    assert "functionalscaffold-client" in found and "httpx" in found
    assert len(found) <= BUDGET, found


def test_the_clients_suite_passes_against_the_platform_sync_and_async(keyed_platform, client_venv: Path) -> None:
    env = {
        **_clean_env(),
        "FUNCTIONALSCAFFOLD_TEST_URL": keyed_platform.url,
        "FUNCTIONALSCAFFOLD_TEST_KEYS": ",".join(keyed_platform.key() for _ in range(KEYS)),
        "FUNCTIONALSCAFFOLD_TEST_WEBHOOK_SECRET": keyed_platform.webhook_secret,
        "FUNCTIONALSCAFFOLD_CLIENT_ONLY": "1",
    }
    done = subprocess.run(
        [str(client_venv), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=CLIENT,  # its own pytest configuration; src/ layout, so the installed client is the one tested
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    print(done.stdout[-3000:])  # shown by pytest -rP or on failure: what ran, and how long it took
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert "skipped" not in done.stdout.splitlines()[-1], done.stdout[-3000:]  # every test ran, none skipped
