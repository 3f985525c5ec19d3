"""GET /algorithms: each algorithm's name, version and params, as JSON Schema."""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

import algorithms
from app.schemas.jsonschema import complete

#: reStructuredText inline literals (``x``), as docstrings mark code; descriptions in the API are plain text.
_INLINE_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)

# Nested schemas are written inline (no name): the params schema must stand alone, outside the spec.
_converter = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)
APISpec("params", "1", "3.0.3", plugins=[_converter])  # the plugin converts only once attached to a spec
complete(_converter.converter)


@functools.cache
def params_json_schema(params: type[Schema]) -> dict[str, Any]:
    """The params schema in JSON Schema (OpenAPI 3.0 dialect), computed once per algorithm.

    ``GET /algorithms`` shows it, and the spec's request bodies refer to it (``app.web.openapi``).
    """
    return _converter.converter.schema2jsonschema(params)


def description(algorithm: algorithms.Algorithm) -> str:
    """The algorithm's docstring as plain text: ``number`` reads as number."""
    return _INLINE_LITERAL.sub(r"\1", inspect.getdoc(type(algorithm)) or "")


def describe(algorithm: algorithms.Algorithm) -> dict[str, Any]:
    return {
        "name": algorithm.name,
        "version": algorithm.version,
        "description": description(algorithm),
        "default_timeout": algorithm.default_timeout,
        "example": algorithm.example,
        "params_schema": params_json_schema(algorithm.Params),
    }


class AlgorithmSchema(Schema):
    name = fields.String(required=True, metadata={"example": "PrimeChecker"})
    version = fields.String(required=True, metadata={"example": "1.0.0"})
    description = fields.String()
    default_timeout = fields.Float(allow_none=True, metadata={"description": "Seconds, when the algorithm sets it"})
    example = fields.Dict(metadata={"description": "Params that run quickly"})
    params_schema = fields.Dict(required=True, metadata={"description": "JSON Schema of the params"})
