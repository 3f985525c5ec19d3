"""The measurements of ``bench/run.py``, one module per kind, each returning rows of the table.

Loads run as processes of their own (``bench/load.py``, ``bench/latency_client.py``), never in
the process that starts and watches the servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """How long and how often: the full run, or the CI smoke run (``quick``) that only proves the harness."""

    quick: bool = False
    repeat: int = 3

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


def run_json(*args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``python bench/<args>`` and return the JSON it prints."""
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def load(
    url: str,
    settings: Settings,
    *,
    method: str = "GET",
    body: str = "",
    paths_file: str | None = None,
    connections: int = 32,
    seconds: float | None = None,
) -> dict[str, Any]:
    args = [
        "load.py",
        url,
        "--method",
        method,
        "--connections",
        str(connections),
        "--seconds",
        str(seconds or settings.pick(5.0, 0.5)),
        "--warmup",
        str(settings.pick(1.0, 0.2)),
    ]
    if body:
        args += ["--body", body]
    if paths_file:
        args += ["--paths-file", paths_file]
    result = run_json(*args)
    bad = {status: n for status, n in result["statuses"].items() if not status.startswith("2")}
    if bad or result["errors"] or not result["requests"]:
        raise RuntimeError(f"load on {url} got {bad or result['statuses']}, {result['errors']} connection errors")
    return result
