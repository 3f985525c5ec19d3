"""/openapi.json against the Procfile's processes: schemathesis, every phase and check, finds nothing.

Open (no keys) and keyed (API_KEYS, the key sent by schemathesis), each on a platform of its own
with PrimeChecker only (the test algorithms are for other tests: Failing answers 500 on purpose).
The run is seeded and starts from an empty example database, so it replays the same cases; the
hooks in ``conformance_hooks`` keep PrimeChecker's factorisations short and drop one finding
schemathesis gets wrong (both explained there). On failure the whole report is shown.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from platforms import running_platform
from support import platform_env

pytestmark = pytest.mark.slow

#: Fixed, so that a run replays the cases of the last one (given the same schemathesis version).
SEED = 20261129
#: Test cases per operation and phase. 100 runs in 20-40 s per configuration on 2 shared cores.
MAX_EXAMPLES = 100
#: A run longer than this is a hang (a request waiting for something that never happens).
RUN_TIMEOUT_SECONDS = 300
API_KEY = "conformance-key"


def _schemathesis(url: str, workdir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{url}/openapi.json",
        "--phases=examples,coverage,fuzzing,stateful",
        "--checks=all",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--generation-database=none",
        "--workers=1",
        "--no-color",
        *(f"--header={header}" for header in headers),
    ]
    env = platform_env(SCHEMATHESIS_HOOKS="conformance_hooks")
    # In `workdir`: schemathesis keeps a cache of crashes (for `st replay`) in its working directory.
    return subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)


@pytest.mark.parametrize("keyed", [False, True], ids=["open", "keyed"])
def test_schemathesis_finds_no_failure(tmp_path: Path, keyed: bool) -> None:
    # Given the platform as users run it, open or with API keys configured
    settings = {"ALGORITHM_MODULES": "", **({"API_KEYS": API_KEY} if keyed else {})}
    (logs := tmp_path / "logs").mkdir()
    with running_platform(logs, **settings) as platform:
        # When schemathesis tests it against its own spec, every phase and every check
        started = time.monotonic()
        headers = [f"Authorization: Bearer {API_KEY}"] if keyed else []
        run = _schemathesis(platform.url, tmp_path, *headers)
        seconds = time.monotonic() - started

    # Then it finds no failure, and no error
    report = run.stdout + run.stderr
    print(f"schemathesis ({'keyed' if keyed else 'open'}, seed {SEED}) ran {seconds:.1f} s:\n{report}")
    if run.returncode != 0:
        pytest.fail(f"schemathesis found failures (exit {run.returncode}, seed {SEED}):\n{report}", pytrace=False)
