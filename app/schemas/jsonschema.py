"""marshmallow fields in JSON Schema: what apispec's converter leaves out, added once for every converter."""

from __future__ import annotations

from typing import Any

from apispec.ext.marshmallow.field_converter import FieldConverterMixin
from marshmallow import fields, validate


def exclusive_bounds(self: FieldConverterMixin, field: fields.Field, **_: Any) -> dict[str, Any]:
    """``exclusiveMinimum``/``exclusiveMaximum`` (OpenAPI 3.0) for a ``Range`` that excludes its bounds.

    apispec writes a ``Range``'s ``minimum`` and ``maximum`` whether or not they are included: a
    spec saying ``minimum: 0`` for a field that refuses 0 tells clients 0 is fine.
    """
    bounds: dict[str, Any] = {}
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            if validator.min is not None and not validator.min_inclusive:
                bounds["exclusiveMinimum"] = True
            if validator.max is not None and not validator.max_inclusive:
                bounds["exclusiveMaximum"] = True
    return bounds


def complete(converter: FieldConverterMixin) -> None:
    """Teach ``converter`` (an apispec ``MarshmallowPlugin``'s) what apispec leaves out."""
    converter.add_attribute_function(exclusive_bounds)
