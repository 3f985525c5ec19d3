"""PrimeChecker as the platform sees it: params validation and the result shape."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from algorithms import Context, registry
from algorithms.prime_checker import MAX_NUMBER_BITS, PrimeChecker


@pytest.fixture
def checker() -> PrimeChecker:
    return PrimeChecker()


@pytest.mark.parametrize(
    "params",
    [
        {"number": True},
        {"number": False},
        {"number": 7.0},
        {"number": 1.5},
        {"number": "7"},
        {"number": None},
        {},
        {"number": 0},
        {"number": -7},
        {"number": 1 << MAX_NUMBER_BITS},
        {"number": 7, "extra": 1},
        {"number": 7, "time_budget": 0},
        {"number": 7, "time_budget": 61},
        {"number": 7, "time_budget": "1"},
        {"number": 7, "time_budget": True},
    ],
)
def test_invalid_params_are_refused(checker: PrimeChecker, params: dict) -> None:
    with pytest.raises(ValidationError):
        checker.load_params(params)


def test_the_largest_accepted_number_is_just_below_the_bound(checker: PrimeChecker) -> None:
    assert checker.load_params({"number": (1 << MAX_NUMBER_BITS) - 1})["number"] == (1 << MAX_NUMBER_BITS) - 1


def test_bound_is_in_the_error_message(checker: PrimeChecker) -> None:
    with pytest.raises(ValidationError) as caught:
        checker.load_params({"number": 1 << MAX_NUMBER_BITS})
    assert f"2^{MAX_NUMBER_BITS}" in str(caught.value.messages)


@pytest.mark.parametrize(
    ("number", "is_prime", "factors", "algorithm"),
    [
        (17, True, [], "trial_division"),
        (1, False, [], "trial_division"),
        (2, True, [], "trial_division"),
        (12, False, [2, 2, 3], "trial_division"),
        (561, False, [3, 11, 17], "trial_division"),
        ((2**31 - 1) * (2**61 - 1), False, [2**31 - 1, 2**61 - 1], "baillie_psw+pollard_brent"),
        (2**127 - 1, True, [], "baillie_psw"),
    ],
)
def test_results(checker: PrimeChecker, number: int, is_prime: bool, factors: list[int], algorithm: str) -> None:
    result = checker.call(checker.load_params({"number": number}), Context())
    assert result == {
        "number": number,
        "is_prime": is_prime,
        "factors": factors,
        "algorithm": algorithm,
        "factorization_complete": True,
        "cofactor": None,
    }


def test_incomplete_factorisation_is_flagged(checker: PrimeChecker) -> None:
    p, q = 18446744073709551557, 18446744073709551533
    result = checker.call(checker.load_params({"number": 3 * p * q, "time_budget": 0.1}), Context())
    assert result["factorization_complete"] is False
    assert result["factors"] == [3]
    assert result["cofactor"] == p * q


def test_prime_checker_is_registered() -> None:
    assert isinstance(registry.get("PrimeChecker"), PrimeChecker)


def test_factoring_a_large_number_reports_how_far_it_has_come(checker: PrimeChecker) -> None:
    """A product of two large primes takes the whole budget: reports come a few times a second,
    their fraction going up with the time spent, never reaching 1 before the end."""
    reports: list[tuple[float, str]] = []
    params = checker.load_params({"number": 3 * (2**61 - 1) * (2**89 - 1), "time_budget": 1.0})
    result = checker.call(params, Context(lambda fraction, message: reports.append((fraction, message))))
    assert result["factorization_complete"] is False
    assert 2 <= len(reports) <= 1.0 / 0.25 + 2  # throttled at the source
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0 and fractions[-1] > fractions[0]
    assert "1 prime factor found" in reports[-1][1] and "pollard_brent" in reports[-1][1]


def test_quick_answers_report_nothing(checker: PrimeChecker) -> None:
    reports: list[tuple[float, str]] = []
    checker.call(checker.load_params({"number": 2**127 - 1}), Context(lambda *report: reports.append(report)))
    assert reports == []
