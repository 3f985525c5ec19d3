"""The benchmark suite's smoke run: every phase starts what it needs, measures, and reports.

Seconds per measurement, to keep the harness from rotting; the targets are judged from full runs
(``python bench/run.py``), never here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import platform_env

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"


def test_the_quick_run_measures_every_figure_beside_its_baseline(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(output)],
        env=platform_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["mode"] == "quick" and result["machine"]["cores"]
    rows = {row["name"]: row for row in result["rows"]}
    for prefix in (
        "POST /jobs",
        "GET /jobs/{id}",
        "POST /invoke",
        "worker throughput",
        "submit → completed",
        "CPU of the idle worker",
        "webhook retry start error",
        "Redis memory per finished job",
        "RSS growth",
        "primality",
        "factorisation",
    ):
        assert any(name.startswith(prefix) for name in rows), prefix
    for name, row in rows.items():
        # A memory growth over a quick run's few hundred jobs is within the allocator's noise: it may be < 0.
        least = float("-inf") if "growth" in name else 0
        assert row["platform"]["median"] is not None and row["platform"]["median"] >= least, row
        baseline = row["baseline"]
        if baseline is None:
            continue
        assert baseline["median"] is not None and baseline["median"] >= least, row
        # An idle baseline can measure exactly zero (CPU ticks); a ratio to zero means nothing.
        if baseline["median"]:
            assert row["ratio"] == pytest.approx(row["platform"]["median"] / baseline["median"]), row
        else:
            assert row["ratio"] is None, row
    assert "measurement" in done.stdout and "ratio" in done.stdout  # the table was printed
