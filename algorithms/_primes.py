"""Exact primality and time-bounded factorisation of integers, in pure Python.

Primality: trial division for small n, deterministic Miller–Rabin below 3.3·10^24 (bases proven
sufficient), Baillie–PSW above (no counterexample is known; none exists below 2^64).
Factorisation: trial division by small primes, perfect powers, then Pollard–Brent under a deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Below this, trial division decides primality and factorises completely (its square root is 1024).
TRIAL_DIVISION_LIMIT = 1 << 20


def _primes_below(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for p in range(2, math.isqrt(limit - 1) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return [p for p in range(limit) if sieve[p]]


SMALL_PRIMES = _primes_below(1024)

#: Deterministic Miller–Rabin base sets: (exclusive bound, bases). Sinclair's 7 bases cover n < 2^64;
#: the first 13 primes cover n < 3317044064679887385961981 (Sorenson & Webster, 2015).
_MR_BASES = (
    (1 << 64, (2, 325, 9375, 28178, 450775, 9780504, 1795265022)),
    (3317044064679887385961981, (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)),
)


def _is_prime_by_trial_division(n: int) -> bool:
    for p in SMALL_PRIMES:
        if p * p > n:
            return True
        if n % p == 0:
            return False
    return True


def _strong_probable_prime(n: int, base: int) -> bool:
    """Miller–Rabin round: is odd ``n`` a strong probable prime to ``base``?"""
    d, s = n - 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    x = pow(base, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def _jacobi(a: int, n: int) -> int:
    a %= n
    result = 1
    while a:
        while not a & 1:
            a >>= 1
            if n & 7 in (3, 5):
                result = -result
        a, n = n, a
        if a & 3 == 3 and n & 3 == 3:
            result = -result
        a %= n
    return result if n == 1 else 0


def _strong_lucas_probable_prime(n: int) -> bool:
    """Strong Lucas test with Selfridge's parameters (method A); ``n`` odd, not a square."""
    d_param = 5
    while True:
        j = _jacobi(d_param, n)
        if j == -1:
            break
        if j == 0 and abs(d_param) != n:
            return False
        d_param = -d_param - 2 if d_param > 0 else -d_param + 2
    p, q = 1, (1 - d_param) // 4
    d, s = n + 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    u, v, qk = 1, p, q % n
    half = (n + 1) >> 1  # the inverse of 2 modulo odd n
    for bit in bin(d)[3:]:
        u, v = u * v % n, (v * v - 2 * qk) % n
        qk = qk * qk % n
        if bit == "1":
            u, v = (p * u + v) * half % n, (d_param * u + p * v) * half % n
            qk = qk * q % n
    if u == 0 or v == 0:
        return True
    for _ in range(s - 1):
        v = (v * v - 2 * qk) % n
        if v == 0:
            return True
        qk = qk * qk % n
    return False


def primality(n: int) -> tuple[bool, str]:
    """Whether ``n`` is prime, and the name of the test that decided it."""
    if n < TRIAL_DIVISION_LIMIT:
        return (n >= 2 and _is_prime_by_trial_division(n)), "trial_division"
    for p in SMALL_PRIMES[:25]:
        if n % p == 0:
            return False, "trial_division"
    for bound, bases in _MR_BASES:
        if n < bound:
            return all(_strong_probable_prime(n, b % n) for b in bases if b % n), "miller_rabin"
    if not _strong_probable_prime(n, 2):
        return False, "baillie_psw"
    if math.isqrt(n) ** 2 == n:
        return False, "baillie_psw"
    return _strong_lucas_probable_prime(n), "baillie_psw"


def is_prime(n: int) -> bool:
    return primality(n)[0]


def _integer_root(n: int, k: int) -> int:
    """The largest r with r**k <= n (Newton's method on integers)."""
    r = 1 << -(-n.bit_length() // k)
    while True:
        nxt = ((k - 1) * r + n // r ** (k - 1)) // k
        if nxt >= r:
            return r
        r = nxt


def _perfect_power(n: int) -> tuple[int, int] | None:
    """(root, exponent) when n = root**exponent with exponent >= 2, else None."""
    for k in SMALL_PRIMES:
        if k > n.bit_length():
            return None
        r = _integer_root(n, k)
        if r**k == n:
            return r, k
    return None


class _OutOfTime(Exception):
    pass


#: Receives progress while a factorisation runs: (fraction from 0 to 1, what it does).
Report = Callable[[float, str], None]


class _Budget:
    """The time a factorisation may take, and its progress reports while it does (every
    ``REPORT_SECONDS`` at most): the share of the number's bits factored so far, or of the time
    budget spent, whichever is further (a hard factor can take the whole budget)."""

    REPORT_SECONDS = 0.25

    def __init__(self, n: int, seconds: float, report: Report | None) -> None:
        self.started = time.monotonic()
        self.seconds = seconds
        self.deadline = self.started + seconds
        self._report = report
        self._bits = max(1.0, math.log2(n)) if n > 1 else 1.0
        self._found_bits = 0.0
        self._found = 0
        self._next_report = self.started
        self.doing = "trial_division"

    def found(self, factor: int) -> None:
        self._found += 1
        self._found_bits += math.log2(factor)

    def check(self) -> None:
        """Raise ``_OutOfTime`` past the deadline; report progress when it is time to."""
        now = time.monotonic()
        if now > self.deadline:
            raise _OutOfTime
        if self._report is not None and now >= self._next_report:
            self._next_report = now + self.REPORT_SECONDS
            fraction = min(0.99, max(self._found_bits / self._bits, (now - self.started) / self.seconds))
            left = max(0, round(self._bits - self._found_bits))
            found = f"{self._found} prime factor{'' if self._found == 1 else 's'} found"
            self._report(fraction, f"factoring ({self.doing}): {found}, {left} bits left")


def _pollard_brent(n: int, c: int, budget: _Budget) -> int:
    """A divisor of composite ``n`` (possibly ``n`` itself: then try another ``c``)."""
    y, r, q, g = 2, 1, 1, 1
    batch = 128
    x = ys = y
    while g == 1:
        x = y
        for i in range(r):
            y = (y * y + c) % n
            if not i % 1024:
                budget.check()
        k = 0
        while k < r and g == 1:
            budget.check()
            ys = y
            for _ in range(min(batch, r - k)):
                y = (y * y + c) % n
                q = q * abs(x - y) % n
            g = math.gcd(q, n)
            k += batch
        r <<= 1
    if g == n:
        while True:
            ys = (ys * ys + c) % n
            g = math.gcd(abs(x - ys), n)
            if g > 1:
                return g
    return g


@dataclass
class Factorisation:
    """Prime factors found (ascending, with multiplicity) and the composite part left unfactored."""

    factors: list[int] = field(default_factory=list)
    cofactor: int = 1
    methods: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.cofactor == 1


#: Numbers below this fit a machine word: what a C library factors completely in about a millisecond.
WORD_LIMIT = 1 << 64


def factorise(
    n: int,
    time_budget: float,
    *,
    prime: Callable[[int], bool] = is_prime,
    factor_word: tuple[str, Callable[[int], list[int]]] | None = None,
    report: Report | None = None,
) -> Factorisation:
    """Factorise ``n >= 1`` into primes, giving up on what is left after ``time_budget`` seconds.

    ``prime`` decides primality; ``factor_word``, a (method name, function) pair, factors the
    composites below ``WORD_LIMIT`` completely, where a faster library than this module is at hand.
    ``report`` hears how far it has come, a few times a second at most.
    """
    budget = _Budget(n, time_budget, report)
    result = Factorisation()
    for p in SMALL_PRIMES:
        if p * p > n:
            break
        while n % p == 0:
            result.factors.append(p)
            budget.found(p)
            n //= p
    if result.factors:
        result.methods.append("trial_division")
    pending = [n] if n > 1 else []
    while pending:
        m = pending.pop()
        if prime(m):
            result.factors.append(m)
            budget.found(m)
            continue
        if factor_word is not None and m < WORD_LIMIT:
            _note(result.methods, factor_word[0])
            for factor in factor_word[1](m):
                result.factors.append(factor)
                budget.found(factor)
            continue
        power = _perfect_power(m)
        if power is not None:
            _note(result.methods, "perfect_power")
            pending.extend([power[0]] * power[1])
            continue
        budget.doing = "pollard_brent"
        divisor = _find_divisor(m, budget)
        if divisor is None:
            result.cofactor *= m
            continue
        _note(result.methods, "pollard_brent")
        pending.extend([divisor, m // divisor])
    result.factors.sort()
    return result


def _note(methods: list[str], method: str) -> None:
    if method not in methods:
        methods.append(method)


def _find_divisor(m: int, budget: _Budget) -> int | None:
    c = 1
    try:
        while True:
            d = _pollard_brent(m, c, budget)
            if d != m:
                return d
            c += 1
    except _OutOfTime:
        return None
