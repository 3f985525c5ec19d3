"""Primality and factorisation: exact answers on known hard cases, and properties on random input.

Each runs on both implementations: pure Python (``_primes``, the reference and the fallback) and
FLINT (``_primes_flint``, what PrimeChecker uses when python-flint is installed).
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms import _primes, _primes_flint

BACKENDS = [
    pytest.param(_primes, id="python"),
    pytest.param(
        _primes_flint, id="flint", marks=pytest.mark.skipif(not _primes_flint.AVAILABLE, reason="no python-flint")
    ),
]

MERSENNE_PRIME_EXPONENTS = [2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521, 607]
# Composites that fool weaker tests: Carmichael numbers, strong pseudoprimes to many prime bases
# (3825123056546413051 passes bases 2..23), a Lucas pseudoprime, products of large primes.
HARD_COMPOSITES = [
    561,
    1105,
    1729,
    2465,
    2821,
    6601,
    8911,
    25326001,
    3215031751,
    2152302898747,
    3474749660383,
    341550071728321,
    3825123056546413051,
    318665857834031151167461,
    3317044064679887385961981,  # strong pseudoprime to the first 13 prime bases
    5459,
    5777,
    10877,
    16109,
    18971,  # strong Lucas pseudoprimes
    (2**31 - 1) * (2**61 - 1),
    (2**61 - 1) * (2**89 - 1),
    (2**89 - 1) ** 2,
    (2**127 - 1) * (2**107 - 1),
]


def _trial_division(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest):
    return request.param


@pytest.mark.parametrize("exponent", MERSENNE_PRIME_EXPONENTS)
def test_mersenne_primes_are_prime(backend, exponent: int) -> None:
    assert backend.is_prime(2**exponent - 1)


@pytest.mark.parametrize("exponent", [11, 23, 29, 37, 41, 43, 47, 53, 59, 67, 101, 257])
def test_composite_mersenne_numbers_are_composite(backend, exponent: int) -> None:
    assert not backend.is_prime(2**exponent - 1)


@pytest.mark.parametrize("n", HARD_COMPOSITES)
def test_pseudoprimes_and_semiprimes_are_composite(backend, n: int) -> None:
    assert not backend.is_prime(n)


def test_every_number_below_20000_agrees_with_naive_trial_division(backend) -> None:
    assert [n for n in range(20000) if backend.is_prime(n)] == [n for n in range(20000) if _trial_division(n)]


@pytest.mark.parametrize(
    ("n", "python", "flint"),
    [
        (17, "trial_division", "trial_division"),
        (2**40 + 15, "miller_rabin", "baillie_psw"),
        (2**80 - 65, "miller_rabin", "baillie_psw"),
        (2**89 - 1, "baillie_psw", "baillie_psw"),
        (2**127 - 1, "baillie_psw", "baillie_psw"),
    ],
)
def test_the_method_depends_on_size(backend, n: int, python: str, flint: str) -> None:
    assert backend.primality(n)[1] == (python if backend is _primes else flint)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=2**100))
def test_both_implementations_give_the_same_answers(n: int) -> None:
    if not _primes_flint.AVAILABLE:
        pytest.skip("no python-flint")
    assert _primes_flint.is_prime(n) == _primes.is_prime(n)
    assert _primes_flint.factorise(n, 10).factors == _primes.factorise(n, 10).factors


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=2**64, max_value=3317044064679887385961981 - 2))
def test_miller_rabin_and_baillie_psw_agree_where_both_are_exact(n: int) -> None:
    n |= 1  # odd, still below the bound of the 13-base set
    by_miller_rabin = all(_primes._strong_probable_prime(n, b) for b in _primes._MR_BASES[1][1])
    by_bpsw = (
        _primes._strong_probable_prime(n, 2) and math.isqrt(n) ** 2 != n and _primes._strong_lucas_probable_prime(n)
    )
    assert by_miller_rabin == by_bpsw


def test_baillie_psw_finds_primes_near_two_to_the_128(backend) -> None:
    rng = random.Random(1)
    for _ in range(20):
        p, q = (_next_prime(rng.getrandbits(64) | (1 << 63)) for _ in range(2))
        assert backend.is_prime(p) and backend.is_prime(q) and not backend.is_prime(p * q)


def _next_prime(n: int) -> int:
    while not _primes.is_prime(n):
        n += 1
    return n


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2**80))
def test_factors_multiply_back_and_are_all_prime(backend, n: int) -> None:
    result = backend.factorise(n, time_budget=10)
    assert result.complete
    assert math.prod(result.factors) == n
    assert result.factors == sorted(result.factors)
    assert all(_primes.is_prime(f) for f in result.factors)


@pytest.mark.parametrize(
    ("n", "factors"),
    [
        (12, [2, 2, 3]),
        (561, [3, 11, 17]),
        (1, []),
        (2**10, [2] * 10),
        ((2**31 - 1) * (2**61 - 1), [2**31 - 1, 2**61 - 1]),
        (1000000007**3, [1000000007] * 3),
        (3825123056546413051, [149491, 747451, 34233211]),
    ],
)
def test_known_factorisations(backend, n: int, factors: list[int]) -> None:
    assert backend.factorise(n, time_budget=10).factors == factors


def test_flint_factors_word_sized_composites_itself() -> None:
    if not _primes_flint.AVAILABLE:
        pytest.skip("no python-flint")
    result = _primes_flint.factorise(1000000007 * 1000000009, time_budget=10)
    assert (result.factors, result.methods) == ([1000000007, 1000000009], [_primes_flint.FACTOR_WORD])


def test_budget_exhausted_reports_the_unfactored_part(backend) -> None:
    # Two 64-bit primes: far beyond Pollard–Brent in a fraction of a second.
    p, q = 18446744073709551557, 18446744073709551533
    result = backend.factorise(12 * p * q, time_budget=0.2)
    assert not result.complete
    assert result.factors == [2, 2, 3]
    assert result.cofactor == p * q
