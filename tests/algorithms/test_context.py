"""An algorithm's context: ``run(params, context)`` reports progress; ``run(params)`` still works."""

from __future__ import annotations

import math

import pytest
from marshmallow import Schema, fields

from algorithms import Algorithm, Context, InvalidDeclaration
from algorithms.context import PROGRESS_MESSAGE_MAX_CHARS
from app.services.execution import COMPLETED, FAILED, run_algorithm


def _declare(run: object) -> Algorithm:
    namespace = {
        "name": "Counting",
        "version": "1.0.0",
        "example": {"steps": 1},
        "Params": type("Params", (Schema,), {"steps": fields.Integer()}),
        "run": run,
    }
    return type("Counting", (Algorithm,), namespace)()


def _counting(self: Algorithm, params: dict, context: Context) -> dict:
    for step in range(params["steps"]):
        context.progress((step + 1) / params["steps"], f"step {step + 1}")
    return {"steps": params["steps"]}


def test_a_run_that_takes_a_context_reports_to_the_callback_in_order() -> None:
    reports: list[tuple[float, str]] = []
    run = run_algorithm(
        _declare(_counting), {"steps": 4}, lambda fraction, message: reports.append((fraction, message))
    )
    assert (run.outcome, run.result) == (COMPLETED, {"steps": 4})
    assert reports == [(0.25, "step 1"), (0.5, "step 2"), (0.75, "step 3"), (1.0, "step 4")]


def test_a_run_without_a_context_parameter_is_called_as_before() -> None:
    algorithm = _declare(lambda self, params: {"steps": params["steps"]})
    assert run_algorithm(algorithm, {"steps": 2}, lambda *_: pytest.fail("nothing to report")).result == {"steps": 2}


def test_reports_made_where_nobody_listens_are_checked_and_dropped() -> None:
    assert run_algorithm(_declare(_counting), {"steps": 3}).outcome == COMPLETED  # /invoke: no callback
    bad = _declare(lambda self, params, context: context.progress(1.5) or {})
    run = run_algorithm(bad, {"steps": 1})
    assert (run.outcome, run.error) == (FAILED, "ValueError: progress fraction must be from 0 to 1, got 1.5")


@pytest.mark.parametrize(
    ("fraction", "message", "error"),
    [
        (-0.1, "", ValueError),
        (math.nan, "", ValueError),
        (True, "", TypeError),
        ("0.5", "", TypeError),
        (0.5, 7, TypeError),
    ],
)
def test_a_report_must_be_a_fraction_and_a_string(fraction: object, message: object, error: type) -> None:
    with pytest.raises(error):
        Context(lambda *_: None).progress(fraction, message)  # type: ignore[arg-type]


def test_a_long_message_is_cut_and_a_whole_number_is_a_fraction() -> None:
    reports: list[tuple[float, str]] = []
    Context(lambda *report: reports.append(report)).progress(1, "x" * (PROGRESS_MESSAGE_MAX_CHARS + 50))
    assert reports == [(1.0, "x" * PROGRESS_MESSAGE_MAX_CHARS)]
    assert type(reports[0][0]) is float


def test_a_run_that_takes_more_than_a_context_is_refused_when_declared() -> None:
    with pytest.raises(InvalidDeclaration, match=r"\(self, params, context\)"):
        _declare(lambda self, params, context, extra: {})
