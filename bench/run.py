"""The benchmark suite: the platform against its baselines, measured side by side in one run.

Usage: python bench/run.py [--quick] [--repeat 3] [--only http,workers,...] [--json PATH] [--markdown]

Starts what it needs on 127.0.0.1 (its own Redis; the Procfile's web and worker; bare Flask under
the same gunicorn config; plain Dramatiq workers), runs every measurement ``--repeat`` times, and
prints one table: medians with min–max, the ratio to the baseline measured in the same run, and
the target. Also writes it all as JSON (``bench/results/latest.json`` by default). ``--quick`` is
the smoke run CI makes: seconds per measurement, to prove the harness, not to judge the targets.
Stops everything it started, by process group, when done or interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phases import Settings, cold, footprint, job_control, latency, operations, primes, web, webhooks, workers
from report import markdown, table
from stack import ROOT, Stack

PHASES = {
    "web": web.run,
    "workers": workers.run,
    "latency": latency.run,
    "webhooks": webhooks.run,
    "job-control": job_control.run,
    "footprint": footprint.run,
    "cold-start": cold.run,
    "primes": primes.run,
    "operations": operations.run,
}


def machine(stack: Stack) -> dict[str, object]:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "redis": stack.redis.info("server")["redis_version"],
        "commit": commit or None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI smoke run: seconds, not minutes")
    parser.add_argument("--repeat", type=int, help="repetitions of each measurement (default 3; 1 with --quick)")
    parser.add_argument("--only", help=f"comma-separated phases, of: {', '.join(PHASES)}")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown as well")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(PHASES)
    unknown = set(chosen) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    settings = Settings(quick=args.quick, repeat=args.repeat or (1 if args.quick else 3))

    started = time.monotonic()
    stack = Stack()
    rows = []
    failed: list[str] = []
    try:
        facts = machine(stack)
        print(
            f"{facts['cpu']}, {facts['cores']} cores, Python {facts['python']}, Redis {facts['redis']}; "
            f"{'quick' if settings.quick else 'full'} run, {settings.repeat}× each; logs in {stack.logs}",
            flush=True,
        )
        for name in chosen:
            phase_started = time.monotonic()
            try:
                rows += PHASES[name](stack, settings)
            except Exception:  # the other phases' figures still count: say what failed, go on
                failed.append(name)
                traceback.print_exc()
            print(f"  {name}: {time.monotonic() - phase_started:.0f} s", flush=True)
    finally:
        stack.close()
    print()
    print(table(rows))
    if args.markdown:
        print()
        print(markdown(rows))
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if settings.quick else "full",
        "repeat": settings.repeat,
        "seconds": round(time.monotonic() - started, 1),
        "machine": facts,
        "rows": [row.as_json() for row in rows],
        "failed_phases": failed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    failing = [row.name for row in rows if row.holds is False]
    print(f"\n{len(rows)} figures in {result['seconds']:.0f} s; targets missed: {len(failing)}; JSON: {args.json}")
    if failed:
        print(f"phases that failed (traceback above): {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
