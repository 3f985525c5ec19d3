"""PrimeChecker against sympy on random odd 64-bit numbers, 1024-bit primes and 60-bit semiprimes.

Primality is timed against ``sympy.isprime``; factorisation, PrimeChecker's whole ``run``
(primality, then the factors) against ``sympy.factorint``. The targets are judged against sympy as
``pip install sympy`` gives it (pure-Python arithmetic); rows against sympy running on python-flint,
the C library PrimeChecker itself uses, show where the two stand on equal arithmetic. sympy runs in
processes of its own (it picks its arithmetic once, when imported); both sides must give the same
answers on every number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from prime_inputs import prime_inputs
from report import Row, ratio_at_most

from algorithms.context import Context
from algorithms.prime_checker import PrimeChecker, primality
from phases import BENCH, Settings


def _sympy(ground_types: str, settings: Settings) -> dict[str, Any]:
    args = [sys.executable, str(BENCH / "sympy_timing.py"), "--repeat", str(settings.repeat)]
    if settings.quick:
        args.append("--quick")
    env = {**os.environ, "SYMPY_GROUND_TYPES": ground_types}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(done.stdout)


def _seconds_each(function: Callable[[int], object], numbers: Sequence[int]) -> float:
    started = time.perf_counter()
    for n in numbers:
        function(n)
    return (time.perf_counter() - started) / len(numbers)


def _factors(n: int) -> list[list[int]]:
    result = PrimeChecker().run({"number": n, "time_budget": 60.0}, Context())
    if not result["factorization_complete"]:
        raise RuntimeError(f"{n} not factored within 60 s")
    factors = result["factors"] or [n]
    return [[p, factors.count(p)] for p in sorted(set(factors))]


def run(stack: object, settings: Settings) -> list[Row]:
    rounds = [prime_inputs(settings.quick, n) for n in range(settings.repeat)]
    for numbers in prime_inputs(True, -1).values():  # first calls, not timed
        _factors(numbers[0])
    ours: dict[str, list[float]] = {label: [] for label in rounds[0]}
    factoring: list[float] = []
    for inputs in rounds:
        for label, numbers in inputs.items():
            ours[label].append(_seconds_each(primality, numbers) * 1e6)
        factoring.append(_seconds_each(_factors, inputs["60-bit semiprimes"]) * 1e6)
    inputs, semiprimes = rounds[0], rounds[0]["60-bit semiprimes"]
    rows = []
    for ground_types, judged in (("python", True), ("flint", False)):
        sympy = _sympy(ground_types, settings)
        for label, numbers in inputs.items():
            if [primality(n)[0] for n in numbers[:200]] != sympy["answers"]["isprime"][label]:
                raise RuntimeError(f"PrimeChecker and sympy disagree on which {label} are prime")
        if [_factors(n) for n in semiprimes] != sympy["answers"]["factorint"]:
            raise RuntimeError("PrimeChecker and sympy factor the semiprimes differently")
        name = f"sympy {sympy['sympy']} ({sympy['ground_types']})"
        for label in inputs:
            row = Row(f"primality, {label}", "µs each", f"{name} isprime")
            if judged:
                row.target, row.check = "≤ 1×", ratio_at_most(1.0)
            row.platform.samples = ours[label]
            row.baseline.samples = [s * 1e6 for s in sympy["isprime"][label]]
            rows.append(row)
        row = Row("factorisation, 60-bit semiprimes", "µs each", f"{name} factorint")
        if judged:
            row.target, row.check = "≤ 0.5×", ratio_at_most(0.5)
        row.platform.samples = factoring
        row.baseline.samples = [s * 1e6 for s in sympy["factorint"]["60-bit semiprimes"]]
        rows.append(row)
    return rows
