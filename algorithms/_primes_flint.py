"""Primality and factorisation with FLINT (python-flint) doing the arithmetic in C.

Same answers as ``_primes``, which stays the reference and the fallback where python-flint is not
installed. FLINT decides primality below 2^64 with Baillie–PSW, proven exact there, and above it
with Baillie–PSW as ``_primes`` does; it factors numbers below 2^64 completely in about a
millisecond at worst. Larger composites are split by ``_primes``'s Pollard–Brent under the time
budget until their parts fit a word.
"""

from __future__ import annotations

from algorithms import _primes

try:
    from flint import fmpz
except ImportError:  # an optional accelerator: PrimeChecker falls back to _primes
    fmpz = None

AVAILABLE = fmpz is not None
#: Name of FLINT's complete factorisation of word-size numbers, in ``algorithm``.
FACTOR_WORD = "flint_factor"


def primality(n: int) -> tuple[bool, str]:
    """Whether ``n`` is prime, and the name of the test that decided it."""
    if n < _primes.TRIAL_DIVISION_LIMIT:
        return _primes.primality(n)
    if n < _primes.WORD_LIMIT:
        return bool(fmpz(n).is_prime()), "baillie_psw"
    return bool(fmpz(n).is_probable_prime()), "baillie_psw"


def is_prime(n: int) -> bool:
    return primality(n)[0]


def _factor_word(n: int) -> list[int]:
    return [int(p) for p, exponent in fmpz(n).factor() for _ in range(exponent)]


def factorise(n: int, time_budget: float, report: _primes.Report | None = None) -> _primes.Factorisation:
    """Factorise ``n >= 1`` into primes, giving up on what is left after ``time_budget`` seconds;
    ``report`` hears how far it has come."""
    return _primes.factorise(n, time_budget, prime=is_prime, factor_word=(FACTOR_WORD, _factor_word), report=report)
