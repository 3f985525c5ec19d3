"""The numbers PrimeChecker and sympy are timed on: the same in every process, from a fixed seed."""

from __future__ import annotations

import random

SEED = 20261121


def _next_prime(n: int, is_prime) -> int:
    n |= 1
    while not is_prime(n):
        n += 2
    return n


def prime_inputs(quick: bool, round_number: int = 0) -> dict[str, list[int]]:
    """Random odd 64-bit numbers, 1024-bit primes, and 60-bit semiprimes (two 30-bit primes).

    Each round has numbers of its own: sympy remembers what it has factored, so timing the same
    numbers twice would time its cache.
    """
    from algorithms._primes import is_prime  # the pure-Python reference: the same numbers everywhere

    rng = random.Random(SEED + round_number)
    odd64 = [rng.getrandbits(64) | 1 | 1 << 63 for _ in range(500 if quick else 20000)]
    primes1024 = [_next_prime(rng.getrandbits(1024) | 1 << 1023, is_prime) for _ in range(2 if quick else 10)]
    semiprimes60 = [
        _next_prime(rng.randrange(2**29, 2**30), is_prime) * _next_prime(rng.randrange(2**29, 2**30), is_prime)
        for _ in range(5 if quick else 30)
    ]
    return {"random odd 64-bit": odd64, "1024-bit primes": primes1024, "60-bit semiprimes": semiprimes60}
