"""Every registered algorithm keeps the contract the platform relies on."""

from __future__ import annotations

import json

import pytest

from algorithms import Algorithm, Context, load_algorithms

# The product's algorithms (the tests' own, in tests/helpers, break the contract on purpose).
ALGORITHMS = [a for a in load_algorithms() if type(a).__module__.startswith("algorithms.")]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.name)
def test_the_example_validates_and_runs_to_a_json_object(algorithm: Algorithm) -> None:
    result = algorithm.call(algorithm.load_params(algorithm.example), Context())
    assert isinstance(result, dict)
    assert json.loads(json.dumps(result, allow_nan=False)) == result


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.name)
def test_run_is_deterministic_on_the_example(algorithm: Algorithm) -> None:
    params = algorithm.load_params(algorithm.example)
    assert algorithm.call(params, Context()) == algorithm.call(params, Context())
