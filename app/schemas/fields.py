"""Fields (and a validator) the contract needs that marshmallow lacks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields, validate


class Timestamp(fields.Field):
    """Unix seconds, shown as ISO 8601 in UTC with an explicit offset and milliseconds."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"type": "string", "format": "date-time", **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="milliseconds")


class Seconds(fields.Float):
    """A JSON number of seconds, above zero; bools and strings are refused rather than coerced."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"minimum": 0, "exclusiveMinimum": True, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number of seconds")
        seconds = super()._deserialize(value, attr, data, **kwargs)
        if not seconds > 0:
            raise ValidationError("must be above 0")
        return seconds


class Pattern(validate.Regexp):
    """The whole value matches ``pattern``, documented as the field's JSON Schema ``pattern``.

    ``Regexp`` uses ``re.match``, whose ``$`` also matches before a final newline: JSON Schema's
    (ECMAScript's) does not, so a value ending in a newline would pass here and fail the spec.
    """

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _python_only(value: Any) -> bool:
    """A spelling Python's int() and float() read but no client writes: other scripts' digits, 1_000."""
    return isinstance(value, str) and (not value.isascii() or "_" in value)


class QueryInteger(fields.Integer):
    """An integer in a query string, in ASCII digits (``int()`` alone also reads "١" and "1_0")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if _python_only(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryNumber(fields.Float):
    """A number in a query string, in ASCII digits (``float()`` alone also reads "١" and "1_0")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if _python_only(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryDateTime(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, whose "T" and "Z" may be lower case (as RFC 3339 allows)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value.upper() if isinstance(value, str) else value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON boolean: ``true`` or ``false`` only (marshmallow also reads "yes", 1, "on"...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: no bools, floats (even 7.0) or strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be an integer")
        return super()._deserialize(value, attr, data, **kwargs)


class NonNegativeSeconds(fields.Float):
    """A JSON number of seconds, zero or more; bools and strings are refused rather than coerced."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"minimum": 0, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number of seconds")
        seconds = super()._deserialize(value, attr, data, **kwargs)
        if seconds < 0:
            raise ValidationError("must be 0 or more")
        return seconds


class BodyDateTime(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, in a JSON body ("T" and "Z" may be lower case)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError("must be a date-time string with an offset, e.g. 2026-12-01T09:00:00Z")
        return super()._deserialize(value.upper(), attr, data, **kwargs)
