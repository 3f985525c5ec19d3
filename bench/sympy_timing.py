"""sympy's ``isprime`` and ``factorint`` on the benchmark's numbers; prints JSON (seconds per number).

Usage: SYMPY_GROUND_TYPES=python python bench/sympy_timing.py [--quick] [--repeat 3]

A process of its own, because sympy picks its arithmetic (pure Python, gmpy2 or python-flint) once,
when imported: ``SYMPY_GROUND_TYPES=python`` is sympy as ``pip install sympy`` gives it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sympy
from prime_inputs import prime_inputs
from sympy.external.gmpy import GROUND_TYPES


def _seconds_each(function, numbers: list[int]) -> float:
    started = time.perf_counter()
    for n in numbers:
        function(n)
    return (time.perf_counter() - started) / len(numbers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = [prime_inputs(args.quick, n) for n in range(args.repeat)]
    warmup = prime_inputs(True, -1)
    for numbers in warmup.values():  # first calls fill sympy's caches (sieve, small primes): not timed
        sympy.isprime(numbers[0])
        sympy.factorint(numbers[0])
    out = {
        "sympy": sympy.__version__,
        "ground_types": GROUND_TYPES,
        "isprime": {},
        "factorint": {},
        "answers": {"isprime": {}, "factorint": []},
    }
    for label in rounds[0]:
        out["isprime"][label] = [_seconds_each(sympy.isprime, inputs[label]) for inputs in rounds]
        out["answers"]["isprime"][label] = [sympy.isprime(n) for n in rounds[0][label][:200]]
    out["factorint"]["60-bit semiprimes"] = [
        _seconds_each(sympy.factorint, inputs["60-bit semiprimes"]) for inputs in rounds
    ]
    out["answers"]["factorint"] = [sorted(sympy.factorint(n).items()) for n in rounds[0]["60-bit semiprimes"]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
