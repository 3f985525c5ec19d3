"""PrimeChecker: is a number prime, and what are its prime factors?"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from algorithms import _primes, _primes_flint
from algorithms.base import Algorithm
from algorithms.context import Context
from algorithms.registry import register

#: FLINT's C arithmetic when python-flint is installed (it is a dependency), else pure Python.
_backend = _primes_flint if _primes_flint.AVAILABLE else _primes
primality, factorise = _backend.primality, _backend.factorise

#: Largest accepted number, exclusive: 1024-bit integers are the most a request may ask about.
MAX_NUMBER_BITS = 1024
#: Numbers below this are decided and factorised within about 2 ms (measured worst cases: 64-bit
#: semiprimes with FLINT, 52-bit ones in pure Python).
QUICK_BELOW = 1 << 64 if _primes_flint.AVAILABLE else 1 << 52
#: Seconds spent looking for factors unless params say otherwise; primality itself is always exact.
DEFAULT_TIME_BUDGET_SECONDS = 2.0
#: Upper bound of ``time_budget``, so that a request or a worker thread is never held for long.
MAX_TIME_BUDGET_SECONDS = 60.0


class PositiveInteger(fields.Integer):
    """A JSON integer >= 1: refuses bools, floats (even 7.0), strings and null."""

    default_error_messages = {
        "invalid": "must be an integer",
        "range": f"must be between 1 and 2^{MAX_NUMBER_BITS} - 1",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        if not 1 <= value < 1 << MAX_NUMBER_BITS:
            raise self.make_error("range")
        return value


class StrictFloat(fields.Float):
    """A JSON number; bools and strings are refused rather than coerced."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number")
        return super()._deserialize(value, attr, data, **kwargs)


@register
class PrimeChecker(Algorithm):
    """Decides primality exactly and factorises within a time budget.

    ``factors`` is the prime factorisation in ascending order with multiplicity (``[]`` for 1 and for
    primes). When the budget runs out first, ``factorization_complete`` is false and ``cofactor`` holds
    the composite part still unfactored (the product of ``factors`` and ``cofactor`` is ``number``).
    ``algorithm`` names the methods used, joined by ``+``.
    """

    name = "PrimeChecker"
    version = "1.0.0"
    example = {"number": 17}
    default_timeout = MAX_TIME_BUDGET_SECONDS + 15

    class Params(Schema):
        number = PositiveInteger(
            required=True,
            metadata={
                "description": f"The integer to examine, 1 <= number < 2^{MAX_NUMBER_BITS}.",
                "minimum": 1,
                "maximum": (1 << MAX_NUMBER_BITS) - 1,
            },
        )
        time_budget = StrictFloat(
            load_default=DEFAULT_TIME_BUDGET_SECONDS,
            validate=validate.Range(min=0, max=MAX_TIME_BUDGET_SECONDS, min_inclusive=False),
            metadata={"description": "Seconds allowed for factorisation (primality is always decided)."},
        )

    def is_quick(self, params: dict[str, Any]) -> bool:
        return params["number"] < QUICK_BELOW

    def run(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        number = params["number"]
        prime, test = primality(number)
        if prime or number == 1:
            return _result(number, prime, [], 1, test)
        # Factoring a large number can take the whole budget: it says how far it has come.
        factorisation = factorise(number, params["time_budget"], report=context.progress)
        methods = [test, *(m for m in factorisation.methods if m != test)]
        return _result(number, False, factorisation.factors, factorisation.cofactor, "+".join(methods))


def _result(number: int, prime: bool, factors: list[int], cofactor: int, method: str) -> dict[str, Any]:
    return {
        "number": number,
        "is_prime": prime,
        "factors": factors,
        "algorithm": method,
        "factorization_complete": cofactor == 1,
        "cofactor": None if cofactor == 1 else cofactor,
    }
