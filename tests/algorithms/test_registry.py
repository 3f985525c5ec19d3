"""Declaring, registering and discovering algorithms."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from algorithms import Algorithm, AlgorithmNotFound, InvalidDeclaration, Registry, load_algorithms


def _declare(**attributes: object) -> type[Algorithm]:
    namespace = {
        "name": "Echo",
        "version": "1.0.0",
        "example": {"x": 1},
        "Params": type("Params", (Schema,), {"x": fields.Integer()}),
        "run": lambda self, params: dict(params),
    }
    namespace.update(attributes)
    return type("Echo", (Algorithm,), {k: v for k, v in namespace.items() if v is not None})


def test_a_complete_declaration_registers_and_runs() -> None:
    registry = Registry()
    registry.register(_declare())
    echo = registry.get("Echo")
    assert echo.run(echo.load_params({"x": 3})) == {"x": 3}
    assert registry.names() == ["Echo"]


@pytest.mark.parametrize(
    ("attributes", "complaint"),
    [
        ({"name": None}, "name"),
        ({"name": "has space"}, "name"),
        ({"version": "1.0"}, "version"),
        ({"Params": None}, "Params"),
        ({"Params": dict}, "Params"),
        ({"example": None}, "example"),
        ({"run": None}, "run"),
    ],
)
def test_incomplete_declarations_fail_when_the_class_is_created(attributes: dict, complaint: str) -> None:
    with pytest.raises(InvalidDeclaration, match=complaint):
        _declare(**attributes)


def test_a_second_algorithm_with_the_same_name_is_refused() -> None:
    registry = Registry()
    registry.register(_declare())
    with pytest.raises(InvalidDeclaration, match="already taken"):
        registry.register(_declare())


def test_unknown_name_lists_the_available_ones() -> None:
    registry = Registry()
    registry.register(_declare())
    with pytest.raises(AlgorithmNotFound) as caught:
        registry.get("Nope")
    assert caught.value.available == ["Echo"]


def test_extra_modules_named_in_the_environment_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fs_extra_algorithm.py").write_text(
        textwrap.dedent("""
        from marshmallow import Schema, fields
        from algorithms import Algorithm, register

        @register
        class Doubler(Algorithm):
            name = "Doubler"
            version = "0.1.0"
            example = {"x": 2}

            class Params(Schema):
                x = fields.Integer(required=True)

            def run(self, params):
                return {"doubled": 2 * params["x"]}
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ALGORITHM_MODULES", "fs_extra_algorithm")
    registry = load_algorithms()
    try:
        assert "Doubler" in registry.names() and "PrimeChecker" in registry.names()
        assert registry.get("Doubler").run({"x": 4}) == {"doubled": 8}
    finally:
        registry.unregister("Doubler")
        sys.modules.pop("fs_extra_algorithm", None)
